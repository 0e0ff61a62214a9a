/**
 * `mqtt-iot-stream/testing`: stand-ins for the hardware, for tests and for running
 * the publisher side without a Raspberry Pi. A {@link SimulatedGpio} is a GPIO
 * backend whose pins you drive from code (with contact bounce and a clock you
 * control), {@link keyboardButton} presses a simulated button on Enter, as the demo
 * does. `fromGpioButton(pin, { backend: 'simulated' })` uses the process-wide
 * {@link sharedSimulatedGpio}.
 * @module mqtt-iot-stream/testing
 */
export { SimulatedGpio, sharedSimulatedGpio } from './gpio/simulation/simulatedGpio.js';
export type {
  DriveStep,
  OutputWrite,
  SimulatedGpioOptions,
  SimulatedPressOptions,
} from './gpio/simulation/simulatedGpio.js';
export { ManualClock, RealClock } from './gpio/simulation/simulationClock.js';
export type { SimulationClock } from './gpio/simulation/simulationClock.js';
export { keyboardButton } from './gpio/simulation/keyboardButton.js';
export type { KeyboardButtonOptions } from './gpio/simulation/keyboardButton.js';

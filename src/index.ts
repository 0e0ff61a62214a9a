export { EventTimeCodec, IotPayloadCodec, decodePayload, encodePayload, makePayload } from './payload/codec.js';
export type { DecodePayloadOptions, IotPayload, IotPayloadJson } from './payload/codec.js';
export { formatEventTime, parseEventTime } from './payload/timestamp.js';
export { decodeIotPayload } from './payload/decodeIotPayload.js';
export type { DecodedMqttMessage, DecodeIotPayloadOptions } from './payload/decodeIotPayload.js';

export { RejectionError, warnOnReject } from './reject.js';
export type { Rejection, RejectionKind, RejectOptions } from './reject.js';
export { QueueFullError } from './writeQueue.js';
export type { WriteBacklog, WriteQueueOptions, WriteResult, WritingOperator } from './writeQueue.js';

export { LineCursor } from './files/LineCursor.js';
export type { LineCursorOptions } from './files/LineCursor.js';
export { nextLine } from './files/nextLine.js';

export { parseAccessLine } from './accesslog/parseAccessLine.js';
export type { AccessLineFailure, AccessLogRecord } from './accesslog/accessLogRecord.js';
export { parseAccessLog } from './accesslog/parseAccessLog.js';
export type { ParseAccessLogOptions, ParsedAccessLog } from './accesslog/parseAccessLog.js';

export { windowedCount } from './window/windowedCount.js';
export type { WindowedCountOperatorOptions } from './window/windowedCount.js';
export { WindowCounter } from './window/WindowCounter.js';
export type { WindowCounterSnapshot, WindowStats } from './window/WindowCounter.js';
export type { IdleAdvanceOptions, LateRule, OutputMode, WindowedCountOptions } from './window/options.js';
export type { Duration } from './window/duration.js';
export type { WindowRow } from './window/windowRow.js';

export { fromMqtt, MqttSubscribeError } from './mqtt/fromMqtt.js';
export type { FromMqttOptions } from './mqtt/fromMqtt.js';
export { toMqtt } from './mqtt/toMqtt.js';
export type { MqttPublished, ToMqttOptions } from './mqtt/toMqtt.js';
export { serializeJson } from './mqtt/serialize.js';
export { MqttConnectionError } from './mqtt/connectionError.js';
export { redactCredentials } from './mqtt/connection.js';
export type { MqttConnection, MqttConnectOptions } from './mqtt/connection.js';
export type { MqttMessage, MqttMessageProperties } from './mqtt/message.js';
export { topicMatches } from './mqtt/topicFilter.js';

export { durableWindowedCount } from './durable/durableWindowedCount.js';
export type {
  DurableWindowedCountOptions,
  DurableWindowStats,
  DurableWriterHooks,
} from './durable/durableWindowedCount.js';
export { defaultStateDirectory } from './durable/stateFiles.js';
export type { Durability } from './durable/stateFiles.js';

export { cassandraSink } from './cassandra/cassandraSink.js';
export type {
  CassandraOutage,
  CassandraRetry,
  CassandraSinkOptions,
  CassandraTableMapping,
  CassandraWriteResult,
} from './cassandra/cassandraSink.js';
export type { CassandraClientInput } from './cassandra/client.js';
export { CqlIdentifierError, isCqlIdentifier } from './cassandra/identifier.js';
export {
  DEFAULT_KEYSPACE,
  DEFAULT_TABLE,
  WindowCountTableError,
  checkWindowCountTable,
  ensureWindowCountTable,
  readWindowTotals,
  windowCountRows,
} from './cassandra/windowCountTable.js';
export type {
  EnsureWindowCountTableOptions,
  WindowCountRowsOptions,
  WindowCountTableOptions,
  WindowTotal,
} from './cassandra/windowCountTable.js';
export { CassandraWriteError, isRetryableCassandraError } from './cassandra/writeError.js';

export { fromGpioButton } from './gpio/fromGpioButton.js';
export type { GpioButtonEvent, GpioButtonOptions } from './gpio/fromGpioButton.js';
export { lightWhile } from './gpio/lightWhile.js';
export type { LightWhileOptions } from './gpio/lightWhile.js';
export { TICK_RANGE, tickDiff } from './gpio/backend.js';
export type {
  Edge,
  GpioBackend,
  InputPin,
  InputPinOptions,
  Level,
  LevelChange,
  OutputPin,
  OutputPinOptions,
  Pull,
} from './gpio/backend.js';
export type { GpioBackendChoice } from './gpio/gpioBackendChoice.js';
export { GpioBackendUnavailableError } from './gpio/gpioBackendUnavailableError.js';
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
export { loadPigpioBackend } from './gpio/backends/pigpio/pigpioBackend.js';
export type { PigpioGpioBackend } from './gpio/backends/pigpio/pigpioBackend.js';
export { detectBoard, diagnosePigpioFailure } from './gpio/backends/pigpio/pigpioDiagnosis.js';
export type {
  BoardInfo,
  PigpioDiagnosis,
  PigpioFailureCause,
  PigpioLoadFacts,
} from './gpio/backends/pigpio/pigpioDiagnosis.js';
export { loadGpiodBackend } from './gpio/backends/gpiod/gpiodBackend.js';
export type { GpiodBackendOptions, GpiodGpioBackend } from './gpio/backends/gpiod/gpiodBackend.js';
export { parseGpiomonLine } from './gpio/backends/gpiod/gpiomonOutput.js';
export type { GpiomonEdge, GpiomonLine } from './gpio/backends/gpiod/gpiomonOutput.js';

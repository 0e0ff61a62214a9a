import type { Benchmark } from './harness.js';

export const mqttPublishBench: Benchmark = {
  name: 'mqtt-publish',
  async run() {
    return [];
  },
};

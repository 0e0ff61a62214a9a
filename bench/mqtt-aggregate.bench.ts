import type { Benchmark } from './harness.js';

export const mqttAggregateBench: Benchmark = {
  name: 'mqtt-aggregate',
  async run() {
    return [];
  },
};

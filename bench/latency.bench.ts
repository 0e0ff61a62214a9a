import type { Benchmark } from './harness.js';

export const latencyBench: Benchmark = {
  name: 'latency',
  async run() {
    return [];
  },
};

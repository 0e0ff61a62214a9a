import type { Benchmark } from './harness.js';

export const cassandraBench: Benchmark = {
  name: 'cassandra',
  async run() {
    return [];
  },
};

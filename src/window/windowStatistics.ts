/**
 * The statistics of event-time windows: the `window` stage of {@link windowedCount}, and
 * the gauges {@link durableWindowedCount}'s `durable` stage shares with it.
 * @module
 */
import { counterStatistic, gaugeStatistic, type Statistic, type StatisticsSource } from '../observe/statistic.js';
import type { WindowStats } from './WindowedCountState.js';

/** Epoch milliseconds as Unix seconds; `NaN` when there is no value yet. */
function seconds(milliseconds: number | undefined): number {
  return milliseconds === undefined ? Number.NaN : milliseconds / 1000;
}

/**
 * What the window state holds now: open windows, counts in memory, the watermark, its
 * lag behind the wall clock and the largest event time.
 * @internal
 */
export function windowGauges(stats: WindowStats): Statistic[] {
  const watermark = stats.watermark;
  return [
    gaugeStatistic('open_windows', 'Windows not final yet', stats.openWindows),
    gaugeStatistic('window_counts', '(window, key) counts held in memory', stats.stateSize),
    gaugeStatistic(
      'watermark_timestamp_seconds',
      'The watermark, as a Unix time (NaN before the first event)',
      seconds(watermark),
    ),
    gaugeStatistic(
      'watermark_lag_seconds',
      'How far the watermark is behind the wall clock (NaN before the first event)',
      watermark === undefined ? Number.NaN : (Date.now() - watermark) / 1000,
    ),
    gaugeStatistic(
      'max_event_timestamp_seconds',
      'The largest event time seen, as a Unix time (NaN before the first event)',
      seconds(stats.maxEventTime),
    ),
  ];
}

/**
 * The `window` stage of a {@link windowedCount} subscription: events seen and counted,
 * the counter's own rejections by kind, rows emitted, and {@link windowGauges}.
 * @internal
 */
export function windowStatistics(stats: WindowStats): StatisticsSource {
  return {
    stage: 'window',
    statistics: () => [
      counterStatistic('events_seen_total', 'Events given to the counter, rejected ones included', stats.eventsSeen),
      counterStatistic('events_counted_total', 'Events counted in at least one window', stats.eventsCounted),
      ...(
        [
          ['timestamp', stats.timestampRejects],
          ['future', stats.futureRejects],
          ['late', stats.lateEvents],
        ] as const
      ).map(([kind, count]) =>
        counterStatistic('rejections_total', 'Events the counter refused, by kind', count, { kind }),
      ),
      counterStatistic(
        'late_events_total',
        'Events late for at least one of their windows (not counted there)',
        stats.lateEvents,
      ),
      counterStatistic('rows_emitted_total', 'Rows handed to the output', stats.rowsEmitted),
      ...windowGauges(stats),
    ],
  };
}

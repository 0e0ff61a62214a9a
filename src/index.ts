/**
 * The package's main entry: the six operators of the reference pipeline, the plain
 * cores they run on, and the options, results and errors of both.
 *
 * Naming: an operator is named for its step on the stream (`parseAccessLog`,
 * `decodeIotPayload`, `windowedCount`, `nextLine`); the plain core it wraps, usable
 * without RxJS, carries the same name plus the one value it takes
 * (`parseAccessLogLine`, `decodeIotPayloadBytes`) or, when it keeps state between
 * values, plus `State` (`WindowedCountState`, `NextLineState`).
 *
 * Test doubles and simulation drivers (the simulated GPIO, its clocks, the keyboard
 * button) are in `mqtt-iot-stream/testing`.
 * @module mqtt-iot-stream
 */
export {
  EventTimeCodec,
  IotPayloadCodec,
  decodeIotPayloadBytes,
  encodeIotPayload,
  makeIotPayload,
} from './payload/codec.js';
export type { DecodeIotPayloadBytesOptions, IotPayload, IotPayloadJson } from './payload/codec.js';
export { formatEventTime, parseEventTime } from './payload/timestamp.js';
export { serializePayload } from './payload/serializePayload.js';
export { decodeIotPayload } from './payload/decodeIotPayload.js';
export type { DecodedMqttMessage, DecodeIotPayloadOptions } from './payload/decodeIotPayload.js';

export { RejectionError, warnOnReject } from './reject.js';
export type { Rejection, RejectionKind, RejectOptions } from './reject.js';
export { QueueFullError } from './writeQueue.js';
export type { WriteBacklog, WriteQueueOptions, WriteResult, WritingOperator } from './writeQueue.js';

export { NextLineState } from './files/NextLineState.js';
export type { NextLineOptions } from './files/NextLineState.js';
export { nextLine } from './files/nextLine.js';

export { parseAccessLogLine } from './accesslog/parseAccessLogLine.js';
export type { AccessLineFailure, AccessLogRecord } from './accesslog/accessLogRecord.js';
export { parseAccessLog } from './accesslog/parseAccessLog.js';
export type { ParseAccessLogOptions, ParsedAccessLog } from './accesslog/parseAccessLog.js';

export { windowedCount } from './window/windowedCount.js';
export type { WindowedCountOperatorOptions } from './window/windowedCount.js';
export { WindowedCountState } from './window/WindowedCountState.js';
export type { WindowedCountSnapshot, WindowStats } from './window/WindowedCountState.js';
export { SnapshotMismatchError } from './window/snapshot.js';
export type { SnapshotDifference } from './window/snapshot.js';
export type { IdleAdvanceOptions, LateRule, OutputMode, WindowedCountOptions } from './window/options.js';
export type { QuietProof, SourceLiveness } from './window/idleAdvance.js';
export type { Duration } from './duration.js';
export type { WindowRow } from './window/windowRow.js';
export type { SessionCountOperatorOptions } from './window/windowedCount.js';
export { SessionCountState } from './window/SessionCountState.js';
export type { SessionWindowOptions } from './window/sessionOptions.js';
export type { SessionCountSnapshot, SessionSnapshot } from './window/sessionSnapshot.js';
export type { EventTimeSnapshot, SnapshotSetting } from './window/snapshot.js';
export type { SessionAggregateOperatorOptions } from './aggregate/windowedAggregate.js';
export { SessionAggregateState } from './aggregate/SessionAggregateState.js';
export type { SessionAggregateOptions, SessionAggregateSnapshot } from './aggregate/SessionAggregateState.js';

export { windowedAggregate } from './aggregate/windowedAggregate.js';
export type { WindowedAggregateOperatorOptions } from './aggregate/windowedAggregate.js';
export { WindowedAggregateState } from './aggregate/WindowedAggregateState.js';
export type {
  AggregateRow,
  AggregateSettings,
  WindowedAggregateOptions,
  WindowedAggregateSnapshot,
  WindowedAggregateStats,
} from './aggregate/WindowedAggregateState.js';
export { AggregateCell } from './aggregate/AggregateCell.js';
export type { AggregatePartial, AggregateValues, PartialReport } from './aggregate/AggregateCell.js';
export type { QuantileSketchPartial, SketchBinsPartial } from './aggregate/QuantileSketch.js';
export { quantileName, resolveAggregateSpec } from './aggregate/aggregateSpec.js';
export type { AggregateOptions, AggregateSpec } from './aggregate/aggregateSpec.js';

export { fromMqtt, MqttSubscribeError } from './mqtt/fromMqtt.js';
export { BrokerLiveness } from './mqtt/brokerLiveness.js';
export type { BrokerLivenessOptions } from './mqtt/brokerLiveness.js';
export type { FromMqttOptions } from './mqtt/fromMqtt.js';
export { toMqtt } from './mqtt/toMqtt.js';
export type { MqttPublished, ToMqttOptions } from './mqtt/toMqtt.js';
export { Outbox, OutboxFullError, openOutbox, PUBLISHER_PROPERTY, SEQUENCE_PROPERTY } from './mqtt/outbox.js';
export type { OutboxMessage, OutboxOptions } from './mqtt/outbox.js';
export { MqttConnectionError } from './mqtt/connectionError.js';
export { redactCredentials } from './mqtt/connection.js';
export type { MqttConnection, MqttConnectOptions } from './mqtt/connection.js';
export type { MqttMessage, MqttMessageProperties } from './mqtt/message.js';
export { topicMatches } from './mqtt/topicFilter.js';

export { durableWindowedCount } from './durable/durableWindowedCount.js';
export type {
  DurablePrepareHooks,
  DurableSessionOptions,
  DurableWindowedCountOptions,
  DurableWindowsOptions,
  DurableWindowStats,
  DurableWriterHooks,
} from './durable/durableWindowedCount.js';
export { durableWindowedAggregate } from './durable/durableWindowedAggregate.js';
export type {
  DurableSessionAggregateOptions,
  DurableWindowedAggregateOptions,
} from './durable/durableWindowedAggregate.js';
export type { LateRow } from './durable/pendingRows.js';
export type { DeadLetterOptions } from './durable/deadLetters.js';
export { defaultStateDirectory } from './durable/stateFiles.js';
export { StateDirectoryError } from './durable/stateDirectoryError.js';
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
export { CassandraDriverMissingError } from './cassandra/driver.js';
export { CqlIdentifierError, isCqlIdentifier } from './cassandra/identifier.js';
export {
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
export {
  checkLateCountTable,
  ensureLateCountTable,
  lateCountRows,
  readLateTotals,
} from './cassandra/lateCountTable.js';
export type { LateCountRowsOptions, LateCountTableOptions, LateTotal } from './cassandra/lateCountTable.js';
export {
  checkWindowAggregateTable,
  ensureWindowAggregateTable,
  readWindowAggregates,
  windowAggregateRows,
} from './cassandra/windowAggregateTable.js';
export type {
  ReadWindowAggregatesOptions,
  WindowAggregateRowsOptions,
  WindowAggregateTableOptions,
  WindowAggregateTotal,
} from './cassandra/windowAggregateTable.js';
export type { CountTableOptions } from './cassandra/countTable.js';
export { CassandraWriteError, isRetryableCassandraError } from './cassandra/writeError.js';

export { fromGpioButton } from './gpio/fromGpioButton.js';
export type { GpioButtonEvent, GpioButtonOptions } from './gpio/fromGpioButton.js';
export { lightWhile } from './gpio/lightWhile.js';
export type { LightWhileOptions } from './gpio/lightWhile.js';
export { tickDiff } from './gpio/backend.js';
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
export { loadPigpioBackend } from './gpio/backends/pigpio/pigpioBackend.js';
export type { PigpioGpioBackend } from './gpio/backends/pigpio/pigpioBackend.js';
export { loadGpiodBackend } from './gpio/backends/gpiod/gpiodBackend.js';
export type { GpiodBackendOptions, GpiodGpioBackend } from './gpio/backends/gpiod/gpiodBackend.js';

export { LiveStatistics } from './observe/LiveStatistics.js';
export type { PipelineReadiness, StageStatistic } from './observe/LiveStatistics.js';
export type { HistogramValue, Readiness, StageChange, Statistic, StatisticsSource } from './observe/statistic.js';
export { registerStatistics } from './observe/registerStatistics.js';
export type { MetricsRegistry, RegisterStatisticsOptions } from './observe/registerStatistics.js';
export { serveStatus } from './observe/serveStatus.js';
export type { DashboardWindow, ServeStatusOptions, StatusServer, WindowsView } from './observe/serveStatus.js';

export { EventTimeCodec, IotPayloadCodec, decodePayload, encodePayload, makePayload } from './payload/codec.js';
export type { IotPayload, IotPayloadJson } from './payload/codec.js';
export { formatEventTime, parseEventTime } from './payload/timestamp.js';
export { RejectionError, warnOnReject } from './reject.js';
export type { Rejection, RejectionKind, RejectOptions } from './reject.js';
export { LineCursor } from './files/LineCursor.js';
export type { LineCursorOptions } from './files/LineCursor.js';
export { nextLine } from './files/nextLine.js';

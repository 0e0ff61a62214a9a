// Locates the real access-log corpora. They live outside the project (never copied in):
// $MQTT_IOT_STREAM_CORPORA, else ../shared/corpora beside the checkout.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const corporaDir = process.env.MQTT_IOT_STREAM_CORPORA ?? join(projectRoot, '..', 'shared', 'corpora');

/** The four corpora, with the per-status counts that SOURCES.md lists for each. */
export const corpora = {
  elastic: {
    file: 'elastic-apache.log',
    lines: 10_000,
    statusCounts: { 200: 9126, 206: 45, 301: 164, 304: 445, 403: 2, 404: 213, 416: 2, 500: 3 },
  },
  hackers: { file: 'logparser-hackers.log', lines: 3_456, statusCounts: { 200: 2846, 302: 585, 403: 13, 404: 12 } },
  nginx: {
    file: 'ployt0-nginx.log',
    lines: 16_912,
    statusCounts: {
      200: 4429,
      301: 178,
      304: 19,
      307: 585,
      400: 333,
      404: 7229,
      405: 3805,
      422: 322,
      499: 6,
      500: 3,
      502: 3,
    },
  },
  nasa: {
    file: 'nasa-aug95-20k.log',
    lines: 20_000,
    statusCounts: { 200: 18083, 302: 244, 304: 1485, 403: 1, 404: 187 },
  },
} as const;

export type CorpusName = keyof typeof corpora;

/** Path of a corpus file; throws (failing the test) when it is missing, saying where it looked. */
export function corpusPath(name: CorpusName): string {
  const path = join(corporaDir, corpora[name].file);
  if (!existsSync(path)) {
    throw new Error(
      `corpus ${corpora[name].file} not found at ${path}; set MQTT_IOT_STREAM_CORPORA to the folder holding the shared corpora`,
    );
  }
  return path;
}

/** The lines of a corpus, without line endings (the file ends with a newline). */
export function corpusLines(name: CorpusName): string[] {
  const text = readFileSync(corpusPath(name), 'latin1');
  return text.slice(0, text.endsWith('\n') ? -1 : undefined).split('\n');
}

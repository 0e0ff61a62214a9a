"""Runs event-time window queries in a real Spark Structured Streaming (PySpark 3.5) and
prints Spark's output rows as JSON lines: the oracle of the windowed operators' tests
(test/support/spark.ts runs it; scripts/install-test-deps installs PySpark).

    windowed_query.py REQUEST.json [--output ROWS.jsonl]

REQUEST.json:

    {"work": "/tmp/some-dir",           # scratch folder: batch files, checkpoints
     "parallel": false,                 # run the queries side by side in the one JVM
     "queries": [{
        "name": "tumbling",
        "events": "events.jsonl",       # {"t": epoch ms, "key": str, "value": int, "client": str}
        "batches": [20, 20, 7],          # micro-batch sizes, in file order, summing to the events
        "watermarkDelay": 120000,       # ms
        "window": 60000, "slide": 30000, "offset": 0,   # ms; slide and offset optional
        "sessionGap": 300000,           # ms: session_window instead of window
        "outputMode": "append",         # optional: "append" (default), "complete" or "update"
        "allowMultiple": false,         # optional: spark.sql.streaming.statefulOperator.allowMultiple
        "expectRefusal": false          # optional: Spark refusing the query is its result, not a failure
     }]}

Relative paths are relative to REQUEST.json's folder. Each output line is one row
{"query", "windowStart", "windowEnd" (epoch ms), "key", "count", "sum", "min", "max",
"avg", "eventIds"} (eventIds: the 0-based line numbers of the events Spark counted in the
row), then one {"query", "summary": {...}} line per query, then {"spark": version, ...}.

What Spark does here, by its own code (nothing below re-implements a rule):

- withWatermark(ts, delay): after each micro-batch the watermark becomes max(previous,
  largest event time seen in that batch - delay); before the first batch it is 0.
- spark.sql.streaming.statefulOperator.allowMultiple=false: one watermark per micro-batch,
  the one computed after the previous batch, both to drop late rows and to evict state
  (the Spark 2.4 to 3.3 rule; Spark >= 3.4 by default drops against the watermark of the
  batch before, which is our lateRule 'spark-3.4', not exercised here).
- window(ts, window, slide, offset) + groupBy(window, key), output mode append: a row of a
  window whose end <= the batch's watermark is dropped (per window: with sliding windows
  an event can be dropped from one window and counted in another); a window is written
  once, final, in the first batch whose watermark is >= its end, and its state dropped.
- session_window(ts, gap) + groupBy(session_window, key): each event opens [t, t + gap);
  a key's sessions that overlap or touch merge (MergingSessionsIterator: a session starting
  at or before the current one's end joins it). Late: an event is dropped when its session
  window ends by the batch's watermark, t + gap <= W (SessionWindowStateStoreRestoreExec,
  in every output mode). The batch's events are merged with the sessions in state first,
  then (append) the sessions ending by W are written and evicted: a session that ended by
  the watermark after the last batch still takes the next batch's events. Complete mode
  evicts nothing and writes every session each batch; update mode is refused ("Update
  output mode not supported for session window").
- outputMode "complete": the memory sink then holds the last batch's whole table.
  allowMultiple=true (per query, read when it starts): the batch's events are judged late
  by the watermark of the batch before, and state is evicted by the batch's own.
- The end of the stream: Spark never flushes. After the events, one closing event in a
  micro-batch of its own, later than the last event by window (or gap) + delay + 1 ms,
  moves the watermark past every window the events touched; its own window is never
  written. Spark then runs a no-data micro-batch (spark.sql.streaming.noDataMicroBatches
  .enabled, on by default), which evicts and writes every window that watermark passed.
  trigger(availableNow=True) runs that no-data batch before it stops (checked in
  test/windowSparkOracle.test.ts: without it the last windows would be missing).

How the micro-batches relate to our operators, which take one event at a time: each
micro-batch is one JSON file in a source folder, read with maxFilesPerTrigger=1. The file
source orders files by modification time (stable over the listing order, which is not
sorted), so the files get modification times one second apart in file order.

Spark moves the watermark only between micro-batches; we move it after each event. For an
event e in micro-batch b, Spark judges e against W_b = (largest event time of the batches
before b) - delay (0 in the first batch); we judge it against W_e = (largest event time of
the events before e) - delay, and W_b <= W_e, equal when e is first in its batch. For a window query the two
agree on everything they count exactly when no event e falls in a window whose end lies
in (W_b, W_e]: every (event, window) pair is then dropped by both or counted by both;
both write each window once, after the watermark passed its end, with the pairs they
counted; and the closing event passes every window in both. Only when a window is written
differs (Spark at the end of a batch or in the following no-data batch, we right after an
event), and the tests compare the rows, not their timing. With one event per micro-batch
W_b = W_e always. The tests choose the batches (test/support/spark.ts, planMicroBatches)
so that the condition holds.

For session windows we close a session on the watermark each event arrives with, after
merging the event, and Spark on W_b after merging the whole batch. Both agree when every
event of a batch after its first arrives with W_b (no earlier event of the batch raised
the largest event time), and is late for both (t + gap <= W_b) or after W_b (t > W_b): such
an event cannot touch a session that ended by W_b, the only sessions we may have closed
within the batch and Spark still holds; the other sessions merge the same, as merging
intervals by overlap does not depend on their order. With allowMultiple=true Spark judges
the batch late by the watermark of the batch before and we each event by the previous
event's: one event per micro-batch.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone

STARTED = time.monotonic()


def fail(message):
    sys.stderr.write(f"windowed_query.py: {message}\n")
    sys.exit(2)


try:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType
except ImportError as error:
    fail(f"PySpark is not importable from {sys.executable} ({error}); run scripts/install-test-deps")

EVENT_SCHEMA = StructType(
    [
        StructField("t", LongType()),
        StructField("key", StringType()),
        StructField("value", LongType()),
        StructField("client", StringType()),
        StructField("id", LongType()),
    ]
)
CLOSING_KEY = "\u0000end of stream"


def interval(ms):
    return f"{int(ms)} milliseconds"


def read_events(path):
    events = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            event = json.loads(line)
            if not isinstance(event.get("t"), int) or not isinstance(event.get("key"), str):
                fail(f"{path} line {number + 1}: needs an integer t (epoch ms) and a string key: {line.strip()}")
            if not isinstance(event.get("value", 0), int):
                fail(f"{path} line {number + 1}: value must be an integer: {line.strip()}")
            events.append(event)
    return events


def write_batches(query, events, source):
    """One JSON-lines file per micro-batch, modification times one second apart in order."""
    sizes = query.get("batches") or [1] * len(events)
    if sum(sizes) != len(events) or any(size < 1 for size in sizes):
        fail(f"query {query['name']}: batches {sizes} must be positive and add up to {len(events)} events")
    delay = int(query["watermarkDelay"])
    span = int(query["sessionGap"]) if "sessionGap" in query else int(query["window"])
    closing_time = max(e["t"] for e in events) + span + delay + 1
    closing = {"t": closing_time, "key": CLOSING_KEY, "value": 0, "client": ""}
    batches, start = [], 0
    for size in sizes:
        batches.append([dict(e, id=start + i) for i, e in enumerate(events[start : start + size])])
        start += size
    batches.append([dict(closing, id=-1)])
    os.makedirs(source)
    first_mtime = int(time.time()) - len(batches) - 10
    for index, batch in enumerate(batches):
        path = os.path.join(source, f"batch-{index:06d}.json")
        with open(path, "w", encoding="utf-8") as out:
            for event in batch:
                out.write(json.dumps({k: event.get(k) for k in ("t", "key", "value", "client", "id")}) + "\n")
        os.utime(path, (first_mtime + index, first_mtime + index))
    return len(batches), closing


def start_query(spark, query, index, work):
    started = time.monotonic()
    name = f"q{index}"
    folder = os.path.join(work, name)
    events = read_events(query["events"])
    if not events:
        fail(f"query {query['name']}: no events in {query['events']}")
    data_batches, closing = write_batches(query, events, os.path.join(folder, "source"))
    stream = (
        spark.readStream.schema(EVENT_SCHEMA)
        .option("maxFilesPerTrigger", 1)
        .json(os.path.join(folder, "source"))
        .withColumn("ts", F.expr("timestamp_millis(t)"))  # exact: no rounding to seconds
        .withWatermark("ts", interval(query["watermarkDelay"]))
    )
    if "sessionGap" in query:
        window = F.session_window("ts", interval(query["sessionGap"])).alias("w")
    else:
        slide = int(query.get("slide", query["window"]))
        offset = int(query.get("offset", 0)) % slide  # the same windows; Spark wants 0 <= startTime < slide
        window = F.window("ts", interval(query["window"]), interval(slide), interval(offset)).alias("w")
    aggregated = stream.groupBy(window, F.col("key")).agg(
        F.count(F.lit(1)).alias("count"),
        F.sum("value").alias("sum"),
        F.min("value").alias("min"),
        F.max("value").alias("max"),
        F.avg("value").alias("avg"),
        F.array_sort(F.collect_list("id")).alias("eventIds"),
    )
    # Read when the query starts (each query runs on a copy of the session's conf).
    spark.conf.set("spark.sql.streaming.statefulOperator.allowMultiple", str(bool(query.get("allowMultiple", False))).lower())
    running = {"query": query, "name": name, "started": started, "dataBatches": data_batches, "closing": closing}
    try:
        running["handle"] = (
            aggregated.writeStream.format("memory")
            .queryName(name)
            .outputMode(query.get("outputMode", "append"))
            .option("checkpointLocation", os.path.join(folder, "checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
    except Exception as error:  # AnalysisException: Spark refuses the query as planned
        if not query.get("expectRefusal", False):
            fail(f"query {query['name']} was refused by Spark: {error}")
        running["refused"] = str(error)
    return running


def iso_millis(text):
    """Spark's progress timestamps ('2024-01-01T12:04:00.000Z') as epoch ms."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


def finish_query(spark, running, out):
    name = running["query"]["name"]
    if "refused" in running:
        summary = {"refused": running["refused"], "dataBatches": running["dataBatches"], "closingEvent": running["closing"]}
        out.write(json.dumps({"query": name, "summary": summary}) + "\n")
        return
    if running["query"].get("expectRefusal", False):
        fail(f"query {name} was expected to be refused by Spark, and it started")
    handle = running["handle"]
    try:
        handle.awaitTermination()
    except Exception as error:  # StreamingQueryException: Spark's message says what failed
        fail(f"query {running['query']['name']} failed in Spark: {error}")
    seconds = time.monotonic() - running["started"]
    rows = spark.sql(
        "SELECT unix_millis(w.start) AS windowStart, unix_millis(w.end) AS windowEnd,"
        f" key, count, sum, min, max, avg, eventIds FROM {running['name']} ORDER BY windowStart, windowEnd, key"
    ).collect()
    # Complete mode's table holds the closing event's own row too.
    rows = [row for row in rows if row["key"] != CLOSING_KEY]
    for row in rows:
        out.write(json.dumps({"query": name, **row.asDict()}) + "\n")
    progress = handle.recentProgress
    summary = {
        "microBatches": len(progress),
        "dataBatches": running["dataBatches"],
        "inputRows": [p["numInputRows"] for p in progress],
        "watermarks": [iso_millis(p["eventTime"]["watermark"]) for p in progress if "watermark" in p.get("eventTime", {})],
        "droppedByWatermark": sum(
            op.get("numRowsDroppedByWatermark", 0) for p in progress for op in p["stateOperators"]
        ),
        "closingEvent": running["closing"],
        "seconds": round(seconds, 3),
    }
    out.write(json.dumps({"query": name, "summary": summary}) + "\n")


def jvm_cpu_seconds(spark):
    """CPU time the JVM has used (all its threads): what a run costs, whatever else the machine runs."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("request", help="the queries, as JSON (see the top of this file)")
    parser.add_argument("--output", help="write the JSON lines here instead of standard output")
    args = parser.parse_args()
    with open(args.request, encoding="utf-8") as file:
        request = json.load(file)
    base = os.path.dirname(os.path.abspath(args.request))
    work = os.path.join(base, request.get("work", "work"))
    queries = request["queries"]
    for query in queries:
        query["events"] = os.path.join(base, query["events"])
        for option in ("watermarkDelay",):
            if option not in query:
                fail(f"query {query.get('name')}: {option} is required")
        if ("window" in query) == ("sessionGap" in query):
            fail(f"query {query.get('name')}: give either window (and slide, offset) or sessionGap")

    # The pip-installed Spark, whatever SPARK_HOME a machine has; the driver on loopback only.
    os.environ.pop("SPARK_HOME", None)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("mqtt-iot-stream oracle")
        .config("spark.sql.streaming.statefulOperator.allowMultiple", "false")
        .config("spark.sql.streaming.noDataMicroBatches.enabled", "true")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.streaming.numRecentProgressUpdates", "100000")
        # C1 only: a run is short, and C2's compiler threads took the two cores from the queries
        # (44 micro-batches: 37 s instead of 60 s here, under load).
        .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.monotonic() - STARTED

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        if request.get("parallel", False):
            running = [start_query(spark, q, i, work) for i, q in enumerate(queries)]
            for r in running:
                finish_query(spark, r, out)
        else:
            for i, q in enumerate(queries):
                finish_query(spark, start_query(spark, q, i, work), out)
        out.write(
            json.dumps(
                {
                    "spark": spark.version,
                    "startupSeconds": round(startup, 3),
                    "totalSeconds": round(time.monotonic() - STARTED, 3),
                    "jvmCpuSeconds": round(jvm_cpu_seconds(spark), 3),
                }
            )
            + "\n"
        )
    finally:
        if out is not sys.stdout:
            out.close()
        spark.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Publishes (timestamp, line) pairs with the original publisher's payload.

The payload is built exactly as the original Raspberry Pi publisher built it,
    json.dumps({"iottimestamp": str(<datetime>), "accesslogs": line})
except that the datetime is the one given (epoch milliseconds, UTC) instead of
datetime.utcnow(), so a test controls event time. Each input line on stdin is
"<epoch-ms>\\t<access-log line>". Publishes with QoS 1 and waits for each PUBACK,
so the order and completeness of delivery are the broker's to keep.

usage: publish_timed.py HOST PORT TOPIC < pairs.tsv
"""
import json
import sys
from datetime import datetime, timedelta

from publish_like_original import connect_client


def main():
    host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = connect_client(host, port)
    sent = 0
    for pair in sys.stdin.read().splitlines():
        millis, line = pair.split("\t", 1)
        at = datetime(1970, 1, 1) + timedelta(milliseconds=int(millis))
        payload = json.dumps({"iottimestamp": str(at), "accesslogs": line + "\n"})
        client.publish(topic, payload, qos=1).wait_for_publish()
        sent += 1
    client.disconnect()
    client.loop_stop()
    print(sent)


if __name__ == "__main__":
    main()

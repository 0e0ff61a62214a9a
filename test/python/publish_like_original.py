#!/usr/bin/python3
"""Publishes access-log lines exactly as the original Raspberry Pi publisher did.

Each line of the file becomes one message
    json.dumps({"iottimestamp": str(datetime.utcnow()), "accesslogs": line})
with the line as f.readline() gives it (trailing newline included), published with
paho-mqtt's defaults (QoS 0, not retained). Works with paho-mqtt 1.x and 2.x.

usage: publish_like_original.py HOST PORT TOPIC FILE COUNT
"""
import json
import sys
import threading
from datetime import datetime

import paho.mqtt.client as mqtt


def make_client():
    # paho-mqtt 2.x wants the callback API version first; 1.x has no such argument.
    if hasattr(mqtt, "CallbackAPIVersion"):
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    return mqtt.Client()


def connect_client(host, port):
    """A started client, once the broker's CONNACK has arrived."""
    client = make_client()
    connected = threading.Event()
    # The original published on button presses, long after CONNACK; wait for it too
    # (paho 2.x refuses to publish before). Signature differs between 1.x and 2.x.
    client.on_connect = lambda c, userdata, *rest: connected.set()
    client.connect(host, port)
    client.loop_start()
    if not connected.wait(10):
        sys.exit("no CONNACK from the broker within 10 s")
    return client


def main():
    host, port, topic, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    client = connect_client(host, port)
    sent = 0
    with open(path, encoding="latin-1") as f:
        while sent < count:
            line = f.readline()
            if not line:
                break
            payload = json.dumps({"iottimestamp": str(datetime.utcnow()), "accesslogs": line})
            info = client.publish(topic, payload)
            info.wait_for_publish()
            sent += 1
    client.disconnect()
    client.loop_stop()
    print(sent)


if __name__ == "__main__":
    main()

"""Lets a container reach a port of the host's loopback on its own loopback, and nothing else.

    relay.py NETNS_PID PORT    listens on 127.0.0.1:PORT in the network namespace of process
                               NETNS_PID (a container's), and relays each connection to
                               127.0.0.1:PORT of the namespace this runs in (the host's)

tests/container.rs gives the daemon's container the emulator this way: the container keeps its
own network (its port published on the host's loopback, as deploy/compose.yaml publishes it)
instead of the host's, where the image's 0.0.0.0 listener would open on every interface.
Needs CAP_SYS_ADMIN (root) for setns(2). Prints "READY" once listening; runs until killed.
"""

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def serve(client: socket.socket, port: int) -> None:
    try:
        # This thread never entered the container's namespace: the host's loopback.
        upstream = socket.create_connection(("127.0.0.1", port), timeout=30)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    # The listening socket is made in the container's namespace and stays there.
    setns(theirs)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    setns(own)
    print("READY", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, port), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

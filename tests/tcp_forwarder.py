"""A small TCP forwarder, run as a process of its own: `python -m tests.tcp_forwarder LISTEN=TARGET ...`, each a
`host:port=host:port` pair. It prints "ready" once every listener is up and forwards until it is stopped.

The multi-host test uses it to let processes in network namespaces reach the machine's PostgreSQL, Redis and LNbits,
which listen on 127.0.0.1 only, at the root namespace's address on the test's own network.
"""

import asyncio
import functools
import sys

CHUNK = 65_536


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until it ends, then close the other side (the protocols forwarded never half-close)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def forward(target: tuple[str, int], client_reader, client_writer) -> None:
    try:
        target_reader, target_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(copy(client_reader, target_writer), copy(target_reader, client_writer))


async def main(pairs: list[str]) -> None:
    servers = []
    for pair in pairs:
        listen, _, target = pair.partition("=")
        host, port = parse_address(listen)
        handler = functools.partial(forward, parse_address(target))
        servers.append(await asyncio.start_server(handler, host, port, reuse_address=True))
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

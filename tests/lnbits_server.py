"""A real LNbits wallet server (FakeWallet funding source) for tests, started from `.venv-lnbits`.

FakeWallet pays only invoices of the same LNbits, so wallets created here can pay each other with real BOLT11
invoices, preimages and balances, and no node or network. `scripts/install-lnbits.sh` installs LNbits; the
environment below is what FIELD-NOTES.md measured to work offline.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LNBITS_VENV = ROOT / ".venv-lnbits"
INSTALL_HINT = "Run `bash scripts/install-lnbits.sh` (creates .venv-lnbits) first."
START_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class LnbitsNotInstalled(RuntimeError):
    pass


class LnbitsDidNotStart(RuntimeError):
    pass


@dataclass(frozen=True)
class Wallet:
    id: str
    adminkey: str
    inkey: str
    lightning_address: str  # the name before the @
    lightning_address_url: str  # its LNURL-pay endpoint, reachable over http on 127.0.0.1


def lnbits_package_folder() -> Path:
    """The installed `lnbits` package folder inside .venv-lnbits."""
    candidates = sorted(LNBITS_VENV.glob("lib/python3.*/site-packages/lnbits"))
    executable = LNBITS_VENV / "bin" / "lnbits"
    if not candidates or not executable.exists():
        raise LnbitsNotInstalled(f"LNbits is not installed in {LNBITS_VENV}. {INSTALL_HINT}")
    return candidates[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LnbitsServer:
    """One LNbits process group on 127.0.0.1 with a fresh data folder; `stop()` ends the whole group."""

    def __init__(self) -> None:
        self.package_folder = lnbits_package_folder()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="lnbits-test-"))
        self.log_path = self.folder / "lnbits.log"
        self.process: subprocess.Popen | None = None
        self.superuser_token = ""
        self.client = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT)

    # Lifecycle

    def start(self) -> "LnbitsServer":
        # LNbits serves `lnbits/static` by a path relative to its working folder.
        (self.folder / "lnbits").symlink_to(self.package_folder, target_is_directory=True)
        (self.folder / "data").mkdir()
        (self.folder / "extensions").mkdir()
        self._launch()
        try:
            self._wait_until_healthy()
            self.superuser_token = self._first_install()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.client.close()
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server as an outage would, keeping its data folder and port for `resume()`."""
        if self.process is not None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=10)
            # The supervisor can be gone while its uvicorn child is not: leave nothing of the group behind.
            self._signal_group(signal.SIGKILL)

    def resume(self) -> None:
        """Start a halted server again on the same port and data: its wallets, keys and payments are as they were."""
        self._launch()
        self._wait_until_healthy()

    def _launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(LNBITS_VENV / "bin" / "lnbits"), "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.folder,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # LNbits runs a supervisor and a uvicorn child: stop them as one group
            )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # Wallets

    def create_wallet(self, name: str) -> Wallet:
        data = self._json(self.client.post("/api/v1/account", json={"name": name}))
        address = data["lightning_address"]
        return Wallet(
            id=data["id"],
            adminkey=data["adminkey"],
            inkey=data["inkey"],
            lightning_address=address,
            lightning_address_url=f"{self.url}/.well-known/lnurlp/{address}",
        )

    def top_up(self, wallet: Wallet, sats: int) -> None:
        self._json(
            self.client.put(
                "/users/api/v1/balance",
                json={"id": wallet.id, "amount": sats},
                headers={"Authorization": f"Bearer {self.superuser_token}"},
            )
        )

    def balance_msat(self, wallet: Wallet) -> int:
        data = self._json(self.client.get("/api/v1/wallet", headers={"X-Api-Key": wallet.inkey}))
        return int(data["balance"])

    def create_invoice(self, wallet: Wallet, sats: int, memo: str = "", expiry_seconds: int | None = None) -> dict:
        """`payment_hash`, `bolt11` and the rest of LNbits' answer."""
        body: dict = {"out": False, "amount": sats, "memo": memo}
        if expiry_seconds is not None:
            body["expiry"] = expiry_seconds
        return self._json(self.client.post("/api/v1/payments", json=body, headers={"X-Api-Key": wallet.inkey}))

    def pay(self, wallet: Wallet, bolt11: str) -> dict:
        return self._json(
            self.client.post(
                "/api/v1/payments", json={"out": True, "bolt11": bolt11}, headers={"X-Api-Key": wallet.adminkey}
            )
        )

    def payment(self, wallet: Wallet, payment_hash: str) -> dict:
        """`paid`, `preimage` and, for the wallet's own payments, `status` and `details`."""
        return self._json(self.client.get(f"/api/v1/payments/{payment_hash}", headers={"X-Api-Key": wallet.inkey}))

    # Internals

    def _environment(self) -> dict[str, str]:
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith(("LNBITS_", "DATABASE_", "VIRTUAL_"))
        }
        environment.update(
            {
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "LNBITS_BACKEND_WALLET_CLASS": "FakeWallet",
                "LNBITS_DATA_FOLDER": str(self.folder / "data"),
                "LNBITS_EXTENSIONS_PATH": str(self.folder / "extensions"),
                "LNBITS_ADMIN_UI": "true",
                "AUTH_HTTPS_ONLY": "false",
                "LNBITS_EXTENSIONS_DEFAULT_INSTALL": "[]",
                "LNBITS_EXTENSIONS_MANIFESTS": "[]",
                # Without these every call waits on price feeds it cannot reach.
                "LNBITS_PRICE_AGGREGATOR_ENABLED": "false",
                "LNBITS_EXCHANGE_RATE_PROVIDERS": "[]",
                "LNBITS_RATE_LIMIT_NO": "100000",
                "LNBITS_LNURL_ALLOW_PRIVATE_IPS": "true",
                "LNBITS_CALLBACK_ALLOW_PRIVATE_IPS": "true",
                # Without it LNbits refuses to call back an origin with no dotted domain, such as 127.0.0.1:PORT.
                "LNBITS_CALLBACK_URL_RULES": "[]",
                "LNBITS_RESERVE_FEE_MIN": "0",
                "ENABLE_LOG_TO_FILE": "false",
                "DEBUG": "false",
            }
        )
        return environment

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise LnbitsDidNotStart(f"LNbits exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                # Until the first install every route answers with a redirect to /first_install: that is up too.
                if self.client.get("/api/v1/health", timeout=2.0).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise LnbitsDidNotStart(f"LNbits did not answer within {START_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}")

    def _first_install(self) -> str:
        data = self._json(
            self.client.put(
                "/api/v1/auth/first_install",
                json={"username": "superuser", "password": "secret1234", "password_repeat": "secret1234"},
            )
        )
        return data["access_token"]

    def _json(self, response: httpx.Response) -> dict:
        if response.is_error:
            raise RuntimeError(
                f"LNbits {response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text[:500]}"
            )
        return response.json()

    def _signal_group(self, signal_number: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal_number)

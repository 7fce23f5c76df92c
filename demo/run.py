"""`make demo`: load demo/data/*.csv into the Zoho CRM emulator through Meltano, then show what landed.

Steps: install Meltano into its own venv (its ~30 dependencies — SQLAlchemy, alembic, uv, ... — stay
out of `.venv`, so tests keep running against exactly the target's declared dependencies, and a future
pin clash between Meltano and singer-sdk cannot break either), start `zoho-crm-emulator --port 0`, `meltano install`, `meltano --environment demo run
tap-spreadsheets target-zoho-crm` with the target pointed at the emulator through TARGET_ZOHO_CRM_*
variables, then print per module what Zoho (the emulator) holds, the rejects file and the API credits
spent, and where to look inside: the emulator's inspector page (`/__emulator__/ui`). The emulator is
stopped at the end, whatever happened, unless `--keep` (`make demo DEMO_ARGS=--keep`) leaves it running
with this run's records, call log and credits until Ctrl-C. Its records are also kept in
demo/output/crm.sqlite, so `zoho-crm-emulator --db demo/output/crm.sqlite` shows them later. Meltano's
own log goes to demo/output/meltano.log and is only shown when a step fails.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
import venv
from collections import Counter
from pathlib import Path
from typing import Any

from zoho_crm_emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
SYS_DIR = DEMO / ".meltano"  # Meltano's .meltano dir (plugins, state DB); removed by `make clean`
MELTANO_VENV = SYS_DIR / ".venv-meltano"
MELTANO_REQUIREMENT = "meltano==4.4.1"
OUTPUT = DEMO / "output"
REJECTS = OUTPUT / "rejects.jsonl"  # the demo environment's rejects_path in meltano.yml
LOG = OUTPUT / "meltano.log"
CRM_DB = OUTPUT / "crm.sqlite"  # the emulator's records, kept after the demo for the inspector page
TOKEN_CACHE = OUTPUT / "tokens.json"  # the target's token cache, kept out of the user's cache directory
INSPECTOR = "/__emulator__/ui"
STATE_ID = "demo:tap-spreadsheets-to-target-zoho-crm"  # Meltano's {environment}:{tap}-to-{target}
MODULES = ("Accounts", "Contacts", "Leads")
BIN = Path(sys.executable).parent

# The emulator's default OAuth client (zoho_crm_emulator/README.md). It only works against the
# emulator; a real org's credentials never go through this script.
EMULATOR_CREDENTIALS = {
    "CLIENT_ID": DEFAULT_CLIENT_ID,
    "CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    "REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN,
}


class DemoError(RuntimeError):
    """A step failed; the message says which and where the details are."""


def say(text: str = "") -> None:
    print(text, flush=True)


def step(label: str, started: float) -> None:
    say(f"  {label:<52} {time.monotonic() - started:6.1f} s")


def ensure_meltano() -> Path:
    """Meltano in demo/.meltano/.venv-meltano, installed once (about 40 s with pip)."""
    exe = MELTANO_VENV / "bin" / "meltano"
    stamp = MELTANO_VENV / ".requirement"
    if exe.exists() and stamp.exists() and stamp.read_text().strip() == MELTANO_REQUIREMENT:
        return exe
    started = time.monotonic()
    venv.EnvBuilder(with_pip=True, clear=True).create(MELTANO_VENV)
    run_logged(
        [str(MELTANO_VENV / "bin" / "python"), "-m", "pip", "install", "-q", MELTANO_REQUIREMENT],
        "pip install meltano",
    )
    stamp.write_text(MELTANO_REQUIREMENT + "\n")
    step(f"installed {MELTANO_REQUIREMENT} (once)", started)
    return exe


def run_logged(cmd: list[str], what: str, env: dict[str, str] | None = None, timeout: float = 900) -> None:
    """Run a command with its output appended to the demo log; raise with the log's tail on failure."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with LOG.open("a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if proc.returncode != 0:
        raise DemoError(f"{what} failed (exit {proc.returncode}); from {rel(LOG)}:\n" + log_errors())


def log_errors(limit: int = 8) -> str:
    """The log's error lines (Meltano logs them as `[error ...]`), else its last lines, without colours."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in LOG.read_text(errors="replace").splitlines()]
    errors = [line for line in lines if "[error" in line or line.startswith("ERROR")]
    picked = errors[-limit:] if errors else lines[-limit * 2 :]
    return "\n".join("    " + (line if len(line) <= 400 else line[:400] + "...") for line in picked)


def plugins_fingerprint() -> str:
    """What `meltano install` depends on: the plugin definitions and the target's own packaging."""
    digest = hashlib.sha256()
    for path in (ROOT / "meltano.yml", ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def install_plugins(meltano: Path, env: dict[str, str]) -> None:
    """`meltano install`, skipped when nothing it depends on changed (the loader is an editable install)."""
    stamp = SYS_DIR / ".plugins-installed"
    executables = (
        SYS_DIR / "extractors" / "tap-spreadsheets" / "venv" / "bin" / "tap-spreadsheets",
        SYS_DIR / "loaders" / "target-zoho-crm" / "venv" / "bin" / "target-zoho-crm",
    )
    fingerprint = plugins_fingerprint()
    t = time.monotonic()
    if all(p.exists() for p in executables) and stamp.exists() and stamp.read_text() == fingerprint:
        step("meltano plugins already installed", t)
        return
    run_logged([str(meltano), "install"], "meltano install", env)
    stamp.write_text(fingerprint)
    step("meltano install (tap-spreadsheets, target-zoho-crm)", t)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


class Emulator:
    """`zoho-crm-emulator --port 0` as a child process; its first stdout line carries the URL."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 30) -> str:
        exe = BIN / "zoho-crm-emulator"
        CRM_DB.unlink(missing_ok=True)  # each demo starts from an empty org
        self.proc = subprocess.Popen(
            [str(exe), "--host", "127.0.0.1", "--port", "0", "--db", str(CRM_DB)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:  # keeps draining stdout so the emulator never blocks on a full pipe
            for line in stdout:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise DemoError(f"the emulator exited with {self.proc.returncode}") from None
                continue
            match = re.search(r"https?://[^\s\"']+", line)
            if match:
                self.url = match.group(0).rstrip("/")
                return self.url
        raise DemoError(f"the emulator printed no URL within {timeout:.0f} s")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:  # loopback only
            body = resp.read()
        return json.loads(body) if body else None

    def wait_for_ctrl_c(self) -> None:
        """Leave the emulator serving until the user presses Ctrl-C (or it stops by itself)."""
        if self.proc is None:
            return
        try:
            self.proc.wait()
        except KeyboardInterrupt:
            say("")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def meltano_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_ZOHO_CRM_", "MELTANO_"))}
    env.update(
        MELTANO_SYS_DIR_ROOT=str(SYS_DIR),
        MELTANO_ENVIRONMENT="demo",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        TARGET_ZOHO_CRM_ACCOUNTS_URL=url,
        TARGET_ZOHO_CRM_API_URL=url,
        TARGET_ZOHO_CRM_UPLOAD_URL=url,
        TARGET_ZOHO_CRM_TOKEN_CACHE_PATH=str(TOKEN_CACHE),
        NO_COLOR="1",
    )
    env.update({f"TARGET_ZOHO_CRM_{k}": v for k, v in EMULATOR_CREDENTIALS.items()})
    env.pop("VIRTUAL_ENV", None)
    return env


def as_list(payload: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        payload = payload.get(key) or []
    return [r for r in payload or [] if isinstance(r, dict)]


def linked_to_account(contact: dict[str, Any], account_ids: dict[str, str], source: dict[str, str]) -> bool:
    """The contact's Account_Name lookup holds the id of the account the CSV row named."""
    value = contact.get("Account_Name")
    wanted = source.get(str(contact.get("Email") or "").lower())
    return isinstance(value, dict) and wanted is not None and value.get("id") == account_ids.get(wanted)


def contacts_csv_accounts() -> dict[str, str]:
    """Email → account name, as demo/data/contacts.csv says."""
    with (DEMO / "data" / "contacts.csv").open(newline="", encoding="utf-8") as fh:
        return {row["Email"].lower(): row["Account_Name"] for row in csv.DictReader(fh)}


def show_records(zoho: Emulator) -> None:
    say("\nIn Zoho CRM (the emulator) now:")
    account_ids: dict[str, str] = {}
    for module in MODULES:
        records = as_list(zoho.get(f"/__emulator__/records/{module}"), "records")
        extra = ""
        if module == "Accounts":
            account_ids = {str(r.get("Account_Name")): str(r.get("id")) for r in records}
            names = [str(r.get("Account_Name")) for r in records[:3]]
            extra = "e.g. " + ", ".join(names) + (", ..." if len(records) > 3 else "")
        elif module == "Contacts":
            source = contacts_csv_accounts()
            linked = sum(1 for r in records if linked_to_account(r, account_ids, source))
            extra = f"{linked} linked by name to the right Account"
        elif module == "Leads":
            by_status = Counter(str(r.get("Lead_Status") or "-") for r in records)
            extra = ", ".join(f"{n} {s}" for s, n in by_status.most_common(3))
        say(f"  {module:<10} {len(records):>4}   {extra}")


def reason(row: dict[str, Any]) -> str:
    """Zoho's message plus the detail that explains it (expected type, maximum length, ...)."""
    raw = row.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    hints = [f"{k} {details[k]}" for k in ("expected_data_type", "maximum_length") if k in details]
    text = str(row.get("message") or "") + (f" ({', '.join(hints)})" if hints else "")
    return text if len(text) <= 44 else text[:41] + "..."


def show_rejects() -> int:
    rows = []
    if REJECTS.exists():
        rows = [json.loads(line) for line in REJECTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    # The file also holds one schema row per stream and run (what a replay needs): not a rejected record.
    rows = [row for row in rows if row.get("kind") != "schema"]
    say(f"\nRejected ({len(rows)} row{'' if len(rows) == 1 else 's'} in {rel(REJECTS)}):")
    for row in rows:
        record = row.get("record") if isinstance(row.get("record"), dict) else {}
        who = record.get("email") or record.get("Email") or record.get("last_name") or "?"
        say(
            f"  {row.get('stream') or '-':<8} {row.get('code') or '-':<19} {row.get('field') or '-':<9} "
            f"{reason(row):<44} {str(who)[:40]}"
        )
    return len(rows)


def show_credits(zoho: Emulator) -> None:
    calls = as_list(zoho.get("/__emulator__/calls"), "calls")
    meter = zoho.get("/__emulator__/credits") or {}
    kinds = Counter(
        "token"
        if "/oauth/" in str(c.get("path"))
        else "metadata"
        if "/settings/" in str(c.get("path"))
        else "COQL"
        if "/coql" in str(c.get("path"))
        else "write"
        if c.get("method") in ("POST", "PUT", "PATCH")
        else "other"
        for c in calls
    )
    detail = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    say(f"\nAPI credits used: {meter.get('used')} of {meter.get('budget')} ({len(calls)} calls: {detail})")


def show_state(meltano: Path, env: dict[str, str]) -> None:
    """The STATE the target echoed once every record was in Zoho or in the rejects file, as Meltano kept it."""
    proc = subprocess.run(
        [str(meltano), "state", "get", STATE_ID],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        bookmarks = json.loads(proc.stdout)["singer_state"]["bookmarks"]
    except (ValueError, KeyError, TypeError):
        say("\nNo STATE was saved by Meltano.")
        return
    say(f"\nSTATE saved by Meltano ({STATE_ID}): bookmarks for {', '.join(sorted(bookmarks))}")


def show_inspector(url: str, keep: bool) -> None:
    """Where to look inside: the inspector page, and how to open it once the demo has ended."""
    say("\nLook inside with the emulator's inspector page (modules, records, call log, credits):")
    if keep:
        say(f"  {url}{INSPECTOR}")
        say("  open it in a browser; the emulator keeps running until you press Ctrl-C.")
        return
    say("  the demo's emulator has stopped; to open the page, either")
    say(f"  - run `{rel(BIN / 'zoho-crm-emulator')} --db {rel(CRM_DB)}` (this run's records) and open")
    say(f"    http://127.0.0.1:8765{INSPECTOR}, or")
    say("  - run `make demo DEMO_ARGS=--keep`: the demo then ends by leaving its emulator running, with")
    say("    the call log and credits too, and prints the page's address.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the emulator running after the load (until Ctrl-C), to browse its inspector page",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    say("target-zoho-crm demo: demo/data/*.csv -> tap-spreadsheets -> target-zoho-crm -> Zoho emulator")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    LOG.write_text("", encoding="utf-8")
    REJECTS.unlink(missing_ok=True)  # the target appends; a demo run starts from an empty file
    zoho = Emulator()
    try:
        meltano = ensure_meltano()
        t = time.monotonic()
        url = zoho.start()
        step(f"emulator at {url}", t)
        env = meltano_env(url)
        install_plugins(meltano, env)
        # A fresh emulator each time: forget the previous run's STATE so the one shown below is this run's.
        subprocess.run(
            [str(meltano), "state", "clear", "--force", STATE_ID],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
        )
        t = time.monotonic()
        run_logged(
            [str(meltano), "run", "tap-spreadsheets", "target-zoho-crm"],
            "meltano run",
            env,
        )
        step("meltano run tap-spreadsheets target-zoho-crm", t)
        show_records(zoho)
        show_rejects()
        show_credits(zoho)
        show_state(meltano, env)
        say(f"\nDone in {time.monotonic() - started:.0f} s (Meltano's log: {rel(LOG)}).")
        show_inspector(url, args.keep)
        if args.keep:
            zoho.wait_for_ctrl_c()
    except DemoError as exc:
        say(f"\ndemo failed: {exc}")
        return 1
    finally:
        zoho.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Send a written catalogue to TOPCAT (or any SAMP client) through a running SAMP hub.

The hub is found the standard way: the ``SAMP_HUB`` environment variable
(``std-lockurl:file://...``) or ``~/.samp``. Every client subscribed to ``table.load.votable``
gets a synchronous call with a ``file://`` URL of a VOTable copy and must answer ``samp.ok``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from galcat.errors import GalcatError

MTYPE = "table.load.votable"


def _samp():
    """pyvo.samp, astropy.samp's maintained successor (pyvo is a galcat dependency)."""
    from pyvo import samp

    return samp


def votable_copy(path: Path, directory: Path) -> Path:
    """A VOTable version of ``path`` in ``directory`` (the file itself when already a VOTable)."""
    if path.suffix.lower() in (".vot", ".xml", ".votable"):
        return path
    from galcat.tables import read_table, write_table

    target = directory / (path.stem + ".vot")
    write_table(read_table(path), target, overwrite=True)
    return target


def _connected_client(samp, client_name: str):
    """A non-callable client registered on the hub named by SAMP_HUB or ~/.samp."""
    client = samp.SAMPIntegratedClient(
        name=client_name, description="galcat catalogue sender", callable=False
    )
    try:
        client.connect()
    except (samp.SAMPHubError, samp.SAMPClientError, OSError) as exc:
        raise GalcatError(
            f"no SAMP hub is running ({exc}); start TOPCAT (or another hub) first, or set SAMP_HUB"
        ) from None
    return client


def offer_table(path, name: str | None = None) -> bool:
    """Send a table that is already written; a failure (no hub, no client) is one warning line on
    stderr, since the table itself is the result and is kept. True when every client loaded it."""
    try:
        send_table(path, name=name)
    except GalcatError as exc:
        print(f"galcat: warning: wrote {path} but did not send it over SAMP: {exc}", file=sys.stderr)
        return False
    print(f"sent {path} to SAMP clients")
    return True


def send_table(path, name: str | None = None, timeout: float = 60.0, client_name: str = "galcat") -> dict:
    """Ask every SAMP client that loads VOTables to load ``path``; return {client id: response}.

    Raises GalcatError when no hub runs, no client accepts tables, or a client answers an error.
    """
    samp = _samp()
    path = Path(path).resolve()
    if not path.exists():
        raise GalcatError(f"{path}: no such file to send over SAMP")
    client = _connected_client(samp, client_name)
    tmpdir = Path(tempfile.mkdtemp(prefix="galcat-samp-"))
    try:
        recipients = client.get_subscribed_clients(MTYPE)
        if not recipients:
            raise GalcatError(f"no SAMP client accepts {MTYPE}; start TOPCAT and connect it to the hub")
        url = votable_copy(path, tmpdir).as_uri()
        message = {"samp.mtype": MTYPE, "samp.params": {"url": url, "name": name or path.name}}
        responses = {}
        for client_id in recipients:
            try:
                responses[client_id] = client.call_and_wait(client_id, message, str(int(timeout)))
            except (samp.SAMPProxyError, samp.SAMPHubError, OSError) as exc:
                raise GalcatError(f"{path}: SAMP client {_label(client, client_id)} failed: {exc}") from None
        failed = {cid: r for cid, r in responses.items() if r.get("samp.status") != "samp.ok"}
        if failed:
            details = "; ".join(
                f"{_label(client, cid)}: {r.get('samp.error', {}).get('samp.errortxt', r.get('samp.status'))}"
                for cid, r in failed.items()
            )
            raise GalcatError(f"{path}: SAMP clients could not load the table: {details}")
        return responses
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001 - the hub may have gone; nothing left to clean up
            pass


def _label(client, client_id: str) -> str:
    try:
        name = client.get_metadata(client_id).get("samp.name")
    except Exception:  # noqa: BLE001 - metadata is cosmetic
        name = None
    return f"{name} ({client_id})" if name else client_id

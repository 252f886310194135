"""Workspace sync, the doing part: scans, uploads, the manifest, conflicts, coalesced saves.

It never blocks completions or runs: it works in background tasks, one sync at a time, and
touches the session only through uploads, listings and downloads (the manifest; small files
whose content must be compared), and a batch run to compare large files (`sync_hash`).

A first sync sends everything through one pipeline of requests in flight (a large file's
chunks first) and records its progress in the session's manifest every `CHECKPOINT_FILES`
files that arrived, behind the pipeline, so a language server killed half way leaves a
manifest that the next sync continues from; what was sent after the last checkpoint is
recognised by its content.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from bai_bridge.api import BackendClientError, BackendNotFoundError, BatchOptions, Kernel
from bai_bridge.api.models import DownloadResult
from bai_bridge.api.transfer import UPLOAD_FILE_LIMIT

from .config import BridgeOptions
from .folder_sessions import SessionCalls
from .landing import Arrival, Landing, LocalChanged, discard, place, sort_arrivals, staging
from .protocol import SyncResult
from .remote_files import FolderListings, load_manifest, remote_stats, save_manifest
from .session import SessionUnavailable
from .sync_ahead import LargeAhead
from .sync_bookkeeping import Bookkeeping, ManifestSaver
from .sync_hash import HASH_WAIT, remote_digests
from .sync_plan import (
    UNLISTED,
    Conflict,
    LocalFile,
    Manifest,
    ManifestEntry,
    RemoteStat,
    ScanCache,
    SyncPlan,
    WorkspaceScan,
    file_digest,
    files_in_place,
    is_excluded,
    name_problem,
    plan_sync,
    remote_changed,
    scan_workspace,
    settle_plan,
)
from .sync_proofs import ProofsAhead

__all__ = ["SyncService"]

log = logging.getLogger(__name__)
UPLOAD_BATCH = 20
UPLOADS_IN_FLIGHT = 16  # requests in flight: the server always has the next ones while answering
SAVE_COALESCE = 0.2  # seconds: saves in quick succession become one upload
PROGRESS_EVERY = 0.1  # seconds between progress reports of an upload
CHECKPOINT_FILES = 300  # files sent between two saves of the manifest during a sync
UNPROVEN = "not compared with the session's copy yet (the session is busy or could not be read)"

Progress = Callable[[str, int], None]  # (message, percentage)
# Failures of the session or the way to it, not of one file: no other file would fare better.
_SESSION_LOST = (BackendClientError, BackendNotFoundError)


class SyncService:
    def __init__(self, root: Path, options: BridgeOptions, sessions: SessionCalls) -> None:
        self.root = root
        self.options = options
        self.sessions = sessions
        self.conflicts: dict[str, Conflict] = {}
        # each conflict's session stat and local hash when it was found: while both stay, the
        # conflict stands without comparing contents again (it never leads to a write)
        self._conflict_seen: dict[str, tuple[RemoteStat, str]] = {}
        self.on_conflicts: Callable[[list[Conflict]], None] = lambda _: None
        self.on_failure: Callable[[str, BaseException], None] = lambda _p, _e: None
        self.on_too_large: Callable[[list[str]], None] = lambda _: None
        # paths not sent for a reason a person must hear (path -> reason)
        self.on_problems: Callable[[dict[str, str]], None] = lambda _: None
        self.hash_wait = HASH_WAIT  # seconds a comparison may wait behind a running cell
        self._manifest: Manifest | None = None
        self._saver = ManifestSaver(save_manifest, lambda: self._manifest)
        self._records = Bookkeeping()  # what operations left to write down behind them
        self._scans = ScanCache()
        self._lock = asyncio.Lock()
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        # Saved files still to send: the server was unreachable, or the session's copy could
        # not be compared while a cell ran. Sent with the next save, and as soon as the
        # server is back or the session idle again (`resume`).
        self._pending: set[str] = set()
        self._told_waiting = False  # "sent once the server is back" said for this outage

    # -- whole workspace ------------------------------------------------------------------

    async def sync_workspace(self, progress: Progress | None = None) -> SyncResult:
        report = progress or (lambda _m, _p: None)
        report("scanning the workspace", 0)
        walked: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        # the edited files' proofs, fetched as the scan reads them anew (for the session
        # whose manifest is held now), and the large files' chunks, sent as it reads them
        proofs = ProofsAhead(self._manifest, self.conflicts)
        large = LargeAhead(self.root, set(self.conflicts))
        scanning = asyncio.ensure_future(self._scan(walked, proofs, large))

        async def sync_on(kernel: Kernel) -> tuple[WorkspaceScan, SyncPlan, list[str], list[str]]:
            listings = FolderListings(kernel)
            # Nothing known of this session yet (its first sync here): the manifest is read,
            # and the folders listed, while the scan reads the files. Otherwise the listings
            # wait for the scan, so that the fetches proving edited files go first (a sync
            # of edited files waits for those, not for the listings).
            first = not self._knows(kernel)
            ahead = proofs if not first and proofs.manifest is self._manifest else None
            if ahead is not None:
                ahead.start(kernel)
            manifest = asyncio.ensure_future(self._manifest_for(kernel))

            def known(task: asyncio.Future[Manifest]) -> None:
                if not task.cancelled() and task.exception() is None:
                    large.begin(kernel, task.result())

            # A session created here holds no manifest of a first sync: the large files go
            # ahead at once (should a manifest turn up, the listing still decides).
            if first and kernel.created:
                large.begin(kernel, Manifest(kernel.session_id or kernel.kernel_id))
            else:
                manifest.add_done_callback(known)
            try:
                either: list[asyncio.Future[Any]] = [walked, scanning]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                for folder in walked.result() if walked.done() and first else ():
                    listings.start(folder)
                scan = await scanning
                await manifest
                return (
                    scan,
                    *await self._sync_scanned(kernel, scan, listings, report, ahead, large),
                )
            finally:
                listings.cancel()
                manifest.cancel()
                proofs.cancel()  # done by now, or meant for a session lost meanwhile
                for removal in large.discard_rest():
                    self._records.later(removal, "sync-discard-chunks")

        try:
            async with self._lock:  # a session lost meanwhile is re-created (`call`), once
                scan, plan, uploaded, failed = await self.sessions.call(sync_on)
        finally:
            scanning.cancel()  # the session failed first: the scan's end is not awaited
        problems = {**scan.problems, **dict.fromkeys(plan.unproven, UNPROVEN)}
        if problems:
            self.on_problems(problems)
        self._flag(plan.conflicts)
        report("done", 100)
        return SyncResult(
            uploaded=uploaded,
            unchanged=len(plan.unchanged) + len(plan.same),
            conflicts=sorted(c.path for c in plan.conflicts),
            skipped=scan.too_large,
            failed=failed + list(problems),
        )

    async def _scan(
        self, walked: asyncio.Future[set[str]], proofs: ProofsAhead, large: LargeAhead
    ) -> WorkspaceScan:
        """The workspace scanned in a thread; ``walked`` gets its folders once they are known
        (before the files are read), ``proofs`` each edited file as soon as it is read, and
        ``large`` each large file once it is read (they are read first)."""
        loop = asyncio.get_running_loop()

        def found(folders: set[str]) -> None:
            loop.call_soon_threadsafe(tell, folders)

        def tell(folders: set[str]) -> None:
            if not walked.done():  # a scan run again (a session re-created) tells again
                walked.set_result(folders)

        def hashed(file: LocalFile) -> None:
            if proofs.wanted(file):
                loop.call_soon_threadsafe(proofs.offer, [file])

        def read(file: LocalFile) -> None:
            loop.call_soon_threadsafe(large.found, file)

        options = self.options
        return await asyncio.to_thread(
            scan_workspace, self.root, options.sync_excludes, options.max_file_size,
            self._scans, found, (UPLOAD_FILE_LIMIT, read), hashed,
        )  # fmt: skip

    async def _sync_scanned(
        self,
        kernel: Kernel,
        scan: WorkspaceScan,
        listings: FolderListings,
        report: Progress,
        ahead: ProofsAhead | None,
        large: LargeAhead,
    ) -> tuple[SyncPlan, list[str], list[str]]:
        """Decide and send what the scan found: (the plan, uploaded, failed). ``ahead``:
        the proofs fetched for this session during the scan (None: its first sync here)."""
        by_path = {f.path: f for f in scan.files}
        if ahead is not None:  # the edits the scan did not read anew (held back last time)
            ahead.offer(scan.files)
        early = asyncio.ensure_future(self._send_proven(kernel, ahead, by_path, report))
        for file in scan.files:  # a re-run on a re-created session: none were told
            large.found(file)
        try:
            manifest, remote = await asyncio.gather(  # one round trip, not two
                self._manifest_for(kernel), listings.stats(by_path)
            )
        except BaseException:
            early.cancel()  # what it sent unrecorded is recognised by content later
            raise
        sent_early, failed_early = await early
        decided = {*sent_early, *failed_early}
        rest = plan_sync([f for f in scan.files if f.path not in decided], remote, manifest)
        plan = await self._settle(kernel, rest, remote, by_path, ahead)
        await self._record(kernel, [by_path[p] for p in plan.same], True, remote)
        to_send = [by_path[p] for p in plan.upload]
        uploaded, failed = await self._send(kernel, to_send, report, large)
        return plan, sent_early + uploaded, failed_early + failed

    async def _send(
        self, kernel: Kernel, files: list[LocalFile], report: Progress, large: LargeAhead
    ) -> tuple[list[str], list[str]]:
        """Upload all through one pipeline of requests in flight, noting every
        `CHECKPOINT_FILES` files arrived (`_arrived`: their listing and the manifest follow
        behind) while the rest goes on: a sync killed half way leaves a manifest the next
        one continues from, and no request waits for a record or for a slow one. Returns
        (done, failed)."""
        tracker = UploadProgress(files, report)
        failed: dict[str, Exception] = {}  # told once for the whole sync
        arrived: list[LocalFile] = []

        def checkpoint(sent: list[LocalFile]) -> None:
            arrived.extend(sent)
            if len(arrived) >= CHECKPOINT_FILES:
                self._arrived(kernel, arrived.copy(), "sync-record-part")
                arrived.clear()

        uploaded, _ = await self._upload(kernel, files, tracker, failed, checkpoint, large)
        self._arrived(kernel, arrived, "sync-record-part")
        self._tell_failed(failed)
        return uploaded, list(failed)

    async def _send_proven(
        self,
        kernel: Kernel,
        ahead: ProofsAhead | None,
        local: dict[str, LocalFile],
        report: Progress,
    ) -> tuple[list[str], list[str]]:
        """Send at once the files edited here whose session copy the content fetched ahead
        shows as sync sent it (`ProofsAhead.proven`): they need not wait for the listing
        of every folder. Returns (done, failed)."""
        proven = await ahead.proven(local) if ahead is not None else []
        if not proven:
            return [], []
        done, failed = await self._upload(kernel, proven, report)
        arrived = set(done)
        self._arrived(kernel, [f for f in proven if f.path in arrived], "sync-record-upload")
        return done, failed

    def _knows(self, kernel: Kernel) -> bool:
        """Whether the manifest of ``kernel``'s session is loaded."""
        manifest = self._manifest
        return manifest is not None and manifest.session_id == (
            kernel.session_id or kernel.kernel_id
        )

    def _prove_ahead(self, kernel: Kernel, local: list[LocalFile]) -> ProofsAhead | None:
        """Start fetching, beside the listing, the session's copies of the small files of
        ``local`` edited here since sync sent them (`ProofsAhead`)."""
        if not self._knows(kernel):
            return None  # not loaded for this session yet: nothing known to prove
        proofs = ProofsAhead(self._manifest, self.conflicts)
        proofs.offer(local)
        proofs.start(kernel)
        return proofs

    async def _settle(
        self,
        kernel: Kernel,
        plan: SyncPlan,
        remote: dict[str, RemoteStat],
        local: dict[str, LocalFile],
        ahead: ProofsAhead | None = None,
    ) -> SyncPlan:
        """Decide the plan's checks by the content of the session's copies (a file in
        conflict, both sides as they were then, stays so without a comparison)."""
        try:
            return await self._settle_checks(kernel, plan, remote, local, ahead)
        finally:
            if ahead is not None:
                ahead.cancel()  # done by now, or not needed

    async def _settle_checks(
        self,
        kernel: Kernel,
        plan: SyncPlan,
        remote: dict[str, RemoteStat],
        local: dict[str, LocalFile],
        ahead: ProofsAhead | None,
    ) -> SyncPlan:

        def seen(path: str) -> tuple[RemoteStat, str]:
            return remote[path], local[path].sha256

        standing = [
            c
            for c in plan.checks
            if c.path in self.conflicts and self._conflict_seen.get(c.path) == seen(c.path)
        ]
        plan = attrs.evolve(
            plan,
            checks=[c for c in plan.checks if c not in standing],
            conflicts=[*plan.conflicts, *(c.conflict for c in standing)],
        )
        if plan.checks:
            digests = await ahead.digests(remote) if ahead is not None else {}
            sizes = {c.path: remote[c.path].size for c in plan.checks if c.path not in digests}
            if sizes:
                digests.update(await remote_digests(kernel, sizes, self._hash_wait()))
            plan = settle_plan(plan, local, digests)
        self._conflict_seen.update((c.path, seen(c.path)) for c in plan.conflicts)
        return plan

    def _hash_wait(self) -> float:
        """No comparing run is queued behind a run of this editor's: it would only wait."""
        return 0.0 if self.sessions.busy else self.hash_wait

    async def _manifest_for(self, kernel: Kernel) -> Manifest:
        session_id = kernel.session_id or kernel.kernel_id
        if self._manifest is None or self._manifest.session_id != session_id:
            self._manifest = await load_manifest(kernel)
        return self._manifest

    def forget_session(self) -> None:
        """A re-created session starts from an empty manifest (re-read from the session)."""
        self._manifest = None
        self._saver.drop()

    async def flush(self) -> None:
        """Until what operations left to write down (stats, the manifest) is written: a
        language server stopping leaves the session's manifest up to date."""
        await self._records.settle()
        await self._saver.flush()

    async def _upload(
        self,
        kernel: Kernel,
        files: list[LocalFile],
        report: Progress | UploadProgress,
        failures: dict[str, Exception] | None = None,
        on_batch: Callable[[list[LocalFile]], None] = lambda _sent: None,
        ahead: LargeAhead | None = None,
    ) -> tuple[list[str], list[str]]:
        """Upload in batches, a few requests in flight (the round trips overlap); a failing
        batch is retried file by file so one bad file is reported and the rest go on.
        ``on_batch`` is told the files of each batch as it arrives; a file whose chunks
        were sent ``ahead`` is joined from them. Returns (done, failed),
        each in the order of ``files``. The failed files are told in one message, or added
        to ``failures`` for the caller to tell."""
        large, small = _large_first(files)
        batches = [[f] for f in large]
        batches += [small[i : i + UPLOAD_BATCH] for i in range(0, len(small), UPLOAD_BATCH)]
        order = [
            *range(len(large)),
            *(len(large) + i for i in _in_turns(len(batches) - len(large), UPLOADS_IN_FLIGHT)),
        ]
        done: set[str] = set()
        failed: dict[str, Exception] = {}
        progress = report if isinstance(report, UploadProgress) else UploadProgress(files, report)
        gate = asyncio.Semaphore(UPLOADS_IN_FLIGHT)

        async def send(batch: list[LocalFile]) -> None:
            async with gate:
                progress.sending(batch)
                sent, refused = await self._upload_batch(kernel, batch, ahead)
                progress.sent(batch)
            done.update(sent)
            failed.update(refused)
            on_batch([f for f in batch if f.path in sent])

        try:
            async with asyncio.TaskGroup() as group:
                for index in order:
                    group.create_task(send(batches[index]))
        except ExceptionGroup as errors:  # e.g. a lost session: raised as it was
            raise errors.exceptions[0] from None
        in_order = [f.path for f in files]
        failed = {p: failed[p] for p in in_order if p in failed}  # as they finished: sorted
        if failures is None:
            self._tell_failed(failed)
        else:
            failures.update(failed)
        return [p for p in in_order if p in done], list(failed)

    def _tell_failed(self, failed: dict[str, Exception]) -> None:
        """One message for them all: 300 refused files are not 300 pop-ups."""
        if failed:
            self.on_failure(names(list(failed)), next(iter(failed.values())))

    async def _upload_batch(
        self, kernel: Kernel, batch: list[LocalFile], ahead: LargeAhead | None = None
    ) -> tuple[list[str], dict[str, Exception]]:
        """(sent, failed with why); a lost session or server is raised, for all files."""
        if len(batch) == 1 and ahead is not None and (staged := await ahead.take(batch[0])):
            try:
                await staged.place()
                return [batch[0].path], {}
            except _SESSION_LOST:
                raise
            except Exception as e:  # its chunks are gone (a failed join removes them)
                log.info("%s could not be joined from its chunks (%s): sent again", batch[0], e)
        try:
            await kernel.upload([self.root / f.path for f in batch], basedir=self.root)
            return [f.path for f in batch], {}
        except _SESSION_LOST:
            raise
        except Exception:
            pass
        done: list[str] = []
        failed: dict[str, Exception] = {}
        for file in batch:
            try:
                await kernel.upload([self.root / file.path], basedir=self.root)
                done.append(file.path)
            except _SESSION_LOST:
                raise
            except Exception as e:
                failed[file.path] = e
        return done, failed

    def _arrived(self, kernel: Kernel, files: list[LocalFile], name: str) -> None:
        """Files just sent: the manifest says so at once (their session stat `UNLISTED`, so
        the next operation judges those copies by content and need not wait for anything),
        and their listing follows behind (`_list_arrived`)."""
        manifest = self._manifest
        if not files or manifest is None:  # None: forgotten meanwhile (a new session)
            return
        for file in files:  # decided: the session holds this side's content now
            old = manifest.entries.get(file.path)
            origin = old.from_session if old is not None else False
            manifest.entries[file.path] = ManifestEntry(file.sha256, file.size, UNLISTED, origin)
            self.conflicts.pop(file.path, None)
        self._records.later(self._list_arrived(kernel, manifest, files), name)

    async def _list_arrived(
        self, kernel: Kernel, manifest: Manifest, files: list[LocalFile]
    ) -> None:
        """The session's size and mtime of files `_arrived` noted, for the entries still
        waiting for them (a newer upload or a removal of the path meanwhile wins)."""
        stats = await remote_stats(kernel, [f.path for f in files])
        for file in files:
            entry = manifest.entries.get(file.path)
            if entry is None or entry.listed or entry.sha256 != file.sha256:
                continue
            # Another size is another file (a run already rewrote it): it stays unlisted,
            # so the next sync compares contents.
            if (stat := stats.get(file.path)) is not None and stat.size == file.size:
                manifest.entries[file.path] = attrs.evolve(entry, mtime=stat.mtime)
        self._saver.schedule(kernel, manifest)

    async def _record(
        self,
        kernel: Kernel,
        files: list[LocalFile],
        from_session: bool = False,
        stats: dict[str, RemoteStat] | None = None,
    ) -> None:
        """Remember what both sides now hold, with the size and mtime the session reports.

        ``from_session``: the file came from the session first (kept on an entry's updates).
        ``stats``: the session's listing of the files' folders, taken after they were sent.
        """
        if not files:
            return
        manifest = await self._manifest_for(kernel)
        if stats is None:
            stats = await remote_stats(kernel, [f.path for f in files])
        for file in files:
            # Another size is another file (a run already rewrote it): the next sync compares.
            if (stat := stats.get(file.path)) is not None and stat.size == file.size:
                old = manifest.entries.get(file.path)
                origin = old.from_session if old is not None else from_session
                entry = ManifestEntry(file.sha256, stat.size, stat.mtime, origin)
                manifest.entries[file.path] = entry
                self.conflicts.pop(file.path, None)
        self._saver.schedule(kernel, manifest)

    def _flag(self, conflicts: list[Conflict]) -> None:
        fresh = [c for c in conflicts if c.path not in self.conflicts]
        self.conflicts.update({c.path: c for c in conflicts})
        if fresh:
            self.on_conflicts(fresh)

    # -- single files ---------------------------------------------------------------------

    def saved(self, rel: str) -> None:
        """A file was saved: upload it soon (quick successive saves coalesce)."""
        self._dirty.add(rel)
        self._dirty_event.set()

    def resume(self) -> None:
        """The server is back or the session idle again: send what is pending."""
        if self._pending:
            self._dirty_event.set()

    async def save_worker(self) -> None:
        """Background loop draining saved files (start once, as a kept task)."""
        while True:
            await self._dirty_event.wait()
            await asyncio.sleep(SAVE_COALESCE)
            self._dirty_event.clear()
            batch, self._dirty = sorted(self._dirty), set()
            try:
                await self.upload_files(batch)
            except (BackendClientError, SessionUnavailable) as e:
                if not self._told_waiting:  # once per outage, not once per save
                    self._told_waiting = True
                    self.on_failure(f"{names(sorted(self._pending))} (sent once it is back)", e)
            except Exception as e:
                self.on_failure(names(batch), e)
            else:
                self._told_waiting = False

    async def upload_files(self, rels: list[str], force: bool = False) -> list[str]:
        """Upload these files unless the session's copy changed since sync put it there
        (``force``: the person decided), with the files an earlier call could not compare
        with the session's copy. Returns what was sent."""
        if not force:
            rels = sorted({*rels, *self._pending})
        too_large: list[str] = []
        problems: dict[str, str] = {}
        local = await asyncio.to_thread(self._describe, rels, not force, too_large, problems)
        if too_large:
            self.on_too_large(too_large)
        if not local:  # e.g. only excluded files (.git/ churn): no session needed, none woken
            if problems:
                self.on_problems(problems)
            return []
        by_path = {f.path: f for f in local}

        async def upload_on(kernel: Kernel) -> tuple[SyncPlan, list[LocalFile]]:
            manifest = await self._manifest_for(kernel)
            if force:  # sent whatever the session holds: its listing would decide nothing
                plan = SyncPlan(list(by_path), [], [])
            else:
                ahead = self._prove_ahead(kernel, local)
                remote = await remote_stats(kernel, list(by_path))
                plan = await self._settle(
                    kernel, plan_sync(local, remote, manifest), remote, by_path, ahead
                )
                await self._record(kernel, [by_path[p] for p in plan.same], True, remote)
            send = [by_path[p] for p in plan.upload]
            uploaded, _ = await self._upload(kernel, send, lambda _m, _p: None)
            sent = [f for f in send if f.path in uploaded]
            self._arrived(kernel, sent, "sync-record-upload")
            return plan, sent

        try:
            async with self._lock:  # a session lost meanwhile is re-created (`call`), once
                plan, sent = await self.sessions.call(upload_on)
        except (BackendClientError, SessionUnavailable):
            if not force:  # the person's own upload (run, overwrite) fails instead
                self._pending.update(by_path)
            raise
        self._pending.difference_update(by_path)
        self._pending.update(plan.unproven)
        problems.update(dict.fromkeys(plan.unproven, UNPROVEN))
        if problems:
            self.on_problems(problems)
        self._flag(plan.conflicts)
        return [f.path for f in sent]

    def _describe(
        self,
        rels: list[str],
        honour_excludes: bool = False,
        too_large: list[str] | None = None,
        problems: dict[str, str] | None = None,
    ) -> list[LocalFile]:
        """Hash the files that exist, fit the cap and (if asked) are not excluded; the ones
        over the cap go to ``too_large``, the unreadable and the ones whose name the session
        would read differently to ``problems``, when given (blocking)."""
        found = []
        problems = {} if problems is None else problems
        excludes = self.options.sync_excludes
        for rel in rels:
            path = self.root / rel
            if honour_excludes and is_excluded(self.root, excludes, rel):
                continue
            if (problem := name_problem(rel)) is not None:
                problems[rel] = problem
                continue
            try:
                if not path.is_file():
                    continue
                if path.stat().st_size > self.options.max_file_size:
                    if too_large is not None:
                        too_large.append(rel)
                    continue
                size, sha = file_digest(path)
            except FileNotFoundError:
                continue  # removed since it was saved
            except OSError as e:
                problems[rel] = f"unreadable: {e.strerror}"
                continue
            found.append(LocalFile(rel, size, sha))
        return found

    async def keep_remote(self, rel: str) -> None:
        """The person keeps the session's version: staged and landed as a download is, over
        a local file only while it is still what the person was asked about."""
        dest = (self.root / rel).parent
        seen = self._conflict_seen.get(rel)
        _result, landing = await self.fetch([rel], dest, lambda _done, _total: None)
        try:
            take = landing.safe + [
                a for a in landing.clashes if seen is None or a.local_sha == seen[1]
            ]
            left = await self.land(take, landing.same, [rel], dest)
        finally:
            await asyncio.to_thread(discard, landing.staging)
        if left or len(take) < len(landing.safe) + len(landing.clashes):
            raise LocalChanged(
                f"{rel} changed here after the conflict was found; nothing was overwritten. "
                "Save it again to compare anew"
            )
        self.conflicts.pop(rel, None)

    async def fetch(
        self, paths: list[str], dest: Path, progress: Callable[[int, int], None]
    ) -> tuple[DownloadResult, Landing]:
        """Download session paths into a staging folder, sorted against the files they would
        replace in ``dest`` (inside the workspace): nothing local is written yet (`land`)."""
        folder = await asyncio.to_thread(staging)
        try:
            async with self._lock:
                await self._records.settle()
                result = await self.sessions.call(
                    lambda k: k.download(paths, folder, progress=progress)
                )
                entries = dict((await self.sessions.call(self._manifest_for)).entries)
            root = self.root.resolve()
            landing = await asyncio.to_thread(sort_arrivals, folder, dest, root, entries)
        except BaseException:
            await asyncio.to_thread(discard, folder)
            raise
        return result, landing

    async def land(
        self, take: list[Arrival], same: list[Arrival], paths: list[str], dest: Path
    ) -> list[Arrival]:
        """Put ``take`` in place, each only if its local file is still as sorted; returns the
        ones left out because it changed meanwhile. Files now equal on both sides at their
        own session path are recorded as the session's, so the watcher's event for them asks
        nobody, and a local delete leaves them there."""
        async with self._lock:
            await self._records.settle()
            moved = await asyncio.to_thread(lambda: [a for a in take if place(a)])
            equal = {a.rel for a in moved + same}
            here = await asyncio.to_thread(files_in_place, self.root.resolve(), dest, paths)
            files = await asyncio.to_thread(self._describe, [r for r in here if r in equal])
            await self.sessions.call(lambda k: self._record(k, files, from_session=True))
        return [a for a in take if a not in moved]

    # -- deletes and renames ----------------------------------------------------------------

    def owned_under(self, rel: str) -> list[str]:
        """Manifest paths that are ``rel`` itself or inside the folder ``rel``."""
        entries = self._manifest.entries if self._manifest is not None else {}
        inside = rel.rstrip("/") + "/"
        return [
            p
            for p, entry in entries.items()
            if not entry.from_session and (p == rel or p.startswith(inside))
        ]

    async def remove(self, rels: list[str]) -> tuple[list[str], list[str]]:
        """Delete in the session the files sync put there and nobody changed since.

        Returns (removed, kept): kept files changed in the session and stay as they are.
        """
        async with self._lock:
            await self._records.settle()
            return await self.sessions.call(lambda kernel: self._remove_on(kernel, rels))

    async def _remove_on(self, kernel: Kernel, rels: list[str]) -> tuple[list[str], list[str]]:
        manifest = await self._manifest_for(kernel)
        owned = sorted({p for rel in rels for p in self.owned_under(rel)})
        remote = await remote_stats(kernel, owned)
        doomed, kept = await self._still_as_sent(kernel, manifest, owned, remote)
        existing = [p for p in doomed if p in remote]
        if existing:
            await _delete_remote(kernel, existing)
        for path in doomed:
            manifest.entries.pop(path, None)
        if doomed:
            self._saver.schedule(kernel, manifest)
        return doomed, kept

    async def _still_as_sent(
        self, kernel: Kernel, manifest: Manifest, paths: list[str], remote: dict[str, RemoteStat]
    ) -> tuple[list[str], list[str]]:
        """(paths whose session copy is gone or still holds what sync put there, the rest).
        Equal size and mtime are confirmed by content before anything is deleted."""
        present = {p: remote[p] for p in paths if p in remote}
        same_stat = [
            p
            for p, st in present.items()
            if not manifest.entries[p].listed or not remote_changed(manifest.entries[p], st)
        ]
        sizes = {p: present[p].size for p in same_stat}
        digests = await remote_digests(kernel, sizes, self._hash_wait())
        doomed, kept = [], []
        for path in paths:
            if path not in present or digests.get(path) == manifest.entries[path].sha256:
                doomed.append(path)
            else:
                kept.append(path)
        return doomed, kept

    async def rename(self, pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        """Mirror renames: the new paths are uploaded, the old ones removed if sync owned them."""
        moved_from: list[str] = []
        new_files: list[str] = []
        for old, new in pairs:
            owned = self.owned_under(old)
            moved_from += owned
            new_files += [new + p[len(old) :] for p in owned if p != old] or [new]
        local = [p for p in new_files if (self.root / p).is_file()]
        await self.upload_files(local)
        return await self.remove(moved_from) if moved_from else ([], [])


class UploadProgress:
    """Upload progress over one or more `_upload` calls, reported at most every
    `PROGRESS_EVERY` seconds."""

    def __init__(self, files: list[LocalFile], report: Progress) -> None:
        self.report = report
        self.total_files = len(files)
        self.total_bytes = sum(f.size for f in files) or 1
        self.files = self.bytes = 0
        self.shown = 0.0

    def sending(self, batch: list[LocalFile]) -> None:
        now = time.monotonic()
        if now - self.shown >= PROGRESS_EVERY:
            self.shown = now
            self.report(
                f"uploading {self.files + len(batch)}/{self.total_files} files",
                self.bytes * 100 // self.total_bytes,
            )

    def sent(self, batch: list[LocalFile]) -> None:
        self.files += len(batch)
        self.bytes += sum(f.size for f in batch)


def names(paths: list[str], shown: int = 5) -> str:
    """``a.py, b.py (and 298 more)``: files named in one message, however many."""
    more = f" (and {len(paths) - shown} more)" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _large_first(files: list[LocalFile]) -> tuple[list[LocalFile], list[LocalFile]]:
    """(files sent in chunks, the rest): a large file goes first, alone in its batch, so its
    chunks are on their way, and joined in the session, while the small files follow."""
    large = [f for f in files if f.size >= UPLOAD_FILE_LIMIT]
    return large, [f for f in files if f.size < UPLOAD_FILE_LIMIT]


def _in_turns(count: int, runs: int) -> list[int]:
    """Batch indices in sending order: the batches cut into ``runs`` stretches taken in
    turns, so the requests in flight write into different folders. The kernel creates the
    files of one folder one at a time (under its lock), and creating one is slow on a disk
    that recently freed many (ext4 skips recently freed inodes one by one): requests into
    different folders create in parallel."""
    size = -(-count // runs) if count else 1
    stretches = [range(start, min(start + size, count)) for start in range(0, count, size)]
    return [i for turn in itertools.zip_longest(*stretches) for i in turn if i is not None]


async def _delete_remote(kernel: Kernel, paths: list[str]) -> None:
    """No API deletes files: a batch-mode `rm` in the work directory does."""
    quoted = " ".join(shlex.quote(p) for p in paths)
    opts = BatchOptions(exec=f"rm -f -- {quoted}")
    last = None
    async for result in kernel.run("", mode="batch", opts=opts):
        last = result
    if last is None or last.exit_code != 0:
        raise OSError(f"could not delete {', '.join(paths)} in the session")

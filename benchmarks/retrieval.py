"""Retrieval benchmark → benchmarks/results/retrieval.json.

Parts (run all, or pick with --parts):
  recall    recall@1/3/10 of gold paragraphs (Task.meta["gold_ids"]) for bm25 / dense / hybrid on the
            closed-corpus multi-hop sets, question as query, over the bundled corpus.
  real      build time, index size, query latency p50/p99 and queries/s in-process (one query per call, and
            batched) and through `agentdistill serve-retriever` with 32 concurrent loopback clients.
  synthetic the same BM25 figures on generated corpora (100k and 1M passages) to show how cost grows,
            plus faiss flat / HNSW / IVF search latency on random vectors (dense encoding of 1M passages on a
            2-core CPU would take hours, so the encoder is not part of that scaling run).

The in-process one-query-per-call figure is the baseline the server figures are compared against (same run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "retrieval.json"
WORK = Path(os.environ.get("AGENTDISTILL_BENCH_DIR", "/tmp/agentdistill-bench"))
SETS = ("hotpotqa-paper-closed", "2wiki-closed-test", "musique-closed-test")


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 3)


def latency(retriever, queries: list[str], k: int = 3, budget_s: float = 30.0) -> dict:
    """One query per call, sequential: p50/p99 latency (ms) and queries/s."""
    times, started = [], time.perf_counter()
    for q in queries:
        t = time.perf_counter()
        retriever.search(q, k)
        times.append(time.perf_counter() - t)
        if time.perf_counter() - started > budget_s:
            break
    total = time.perf_counter() - started
    return {
        "queries": len(times),
        "p50_ms": pct(times, 50),
        "p99_ms": pct(times, 99),
        "qps": round(len(times) / total, 1),
    }


def batched(retriever, queries: list[str], k: int = 3, batch: int = 64) -> dict:
    started = time.perf_counter()
    for i in range(0, len(queries), batch):
        retriever.batch_search(queries[i : i + batch], k)
    return {
        "queries": len(queries),
        "batch": batch,
        "qps": round(len(queries) / (time.perf_counter() - started), 1),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_server(
    index: Path,
    queries: list[str],
    clients: int = 32,
    max_requests: int = 3000,
    budget_s: float = 40.0,
    k: int = 3,
) -> dict:
    """Start the real server as a subprocess; `clients` threads each send one-query requests."""
    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentdistill.cli.main", "serve-retriever", str(index), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
        lock, times, counter = threading.Lock(), [], [0]
        stop_at = time.perf_counter() + budget_s

        def worker(i: int) -> None:
            with httpx.Client(timeout=60) as client:
                while time.perf_counter() < stop_at:
                    with lock:
                        n = counter[0]
                        if n >= max_requests:
                            return
                        counter[0] += 1
                    t = time.perf_counter()
                    r = client.post(
                        url + "/retrieve",
                        json={"queries": [queries[n % len(queries)]], "topk": k, "return_scores": True},
                    )
                    r.raise_for_status()
                    with lock:
                        times.append(time.perf_counter() - t)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(worker, range(clients)))
        total = time.perf_counter() - started
        health = httpx.get(url + "/health").json()
        return {
            "clients": clients,
            "requests": len(times),
            "p50_ms": pct(times, 50),
            "p99_ms": pct(times, 99),
            "qps": round(len(times) / total, 1),
            "mean_queries_per_batch": round(health["queries"] / max(1, health["batches"]), 2),
        }
    finally:
        proc.terminate()
        proc.wait(10)


def recall_part(out: dict, kinds: list[str]) -> None:
    from agentdistill.data import load_tasks
    from agentdistill.retrieval.corpus import default_corpus_path
    from agentdistill.retrieval.index import build_index, open_index, read_meta

    dense = "dense" in kinds or "hybrid" in kinds
    index = WORK / ("bundled-hybrid" if dense else "bundled-bm25-recall")
    if not (index / "meta.json").is_file():
        build_index(default_corpus_path(), index, "hybrid" if dense else "bm25", overwrite=True)
    meta = read_meta(index)
    table = {}
    for name in SETS:
        tasks = load_tasks(name)
        questions = [t.question for t in tasks]
        golds = [set(t.meta["gold_ids"]) for t in tasks]
        for kind in kinds:
            retriever = open_index(index, kind=kind)
            t = time.perf_counter()
            hits = retriever.batch_search(questions, 10)
            row = {"questions": len(tasks), "seconds": round(time.perf_counter() - t, 2)}
            for k in (1, 3, 10):
                row[f"recall@{k}"] = round(
                    float(
                        np.mean(
                            [
                                len(g & {p.id for p in h[:k]}) / len(g)
                                for g, h in zip(golds, hits, strict=True)
                            ]
                        )
                    ),
                    4,
                )
                row[f"all_gold@{k}"] = round(
                    float(np.mean([g <= {p.id for p in h[:k]} for g, h in zip(golds, hits, strict=True)])), 4
                )
            table.setdefault(name, {})[kind] = row
            print(name, kind, row, flush=True)
    out["recall"] = {
        "corpus": str(default_corpus_path().name),
        "num_docs": meta["num_docs"],
        "dense_model": meta.get("dense", {}).get("model"),
        "query": "question text",
        "sets": table,
    }


def real_part(out: dict) -> None:
    from agentdistill.data import load_tasks
    from agentdistill.retrieval.corpus import default_corpus_path
    from agentdistill.retrieval.index import build_index, open_index, read_meta

    queries = [t.question for name in SETS for t in load_tasks(name)]
    res: dict = {"num_queries": len(queries)}
    bm25_dir = WORK / "bundled-bm25"
    build_index(default_corpus_path(), bm25_dir, "bm25", progress=False, overwrite=True)
    meta = read_meta(bm25_dir)
    t = time.perf_counter()
    bm25 = open_index(bm25_dir)
    res["bm25"] = {
        "num_docs": meta["num_docs"],
        "build_s": meta["build_seconds"],
        "index_mb": round(meta["bytes"] / 1e6, 2),
        "load_s": round(time.perf_counter() - t, 3),
        "in_process": latency(bm25, queries),
        "in_process_batched": batched(bm25, queries),
    }
    res["bm25"]["server_32_clients"] = through_server(bm25_dir, queries)
    res["bm25"]["server_vs_in_process_qps"] = round(
        res["bm25"]["server_32_clients"]["qps"] / res["bm25"]["in_process"]["qps"], 3
    )
    hybrid_dir = WORK / "bundled-hybrid"
    if (hybrid_dir / "meta.json").is_file():
        hmeta = read_meta(hybrid_dir)
        dense = open_index(hybrid_dir, kind="dense")
        res["dense"] = {
            "model": hmeta["dense"]["model"],
            "faiss": hmeta["dense"]["faiss"],
            "build_s_encode": hmeta.get("dense_seconds"),
            "index_mb": round((hybrid_dir / "dense" / "index.faiss").stat().st_size / 1e6, 2),
            "in_process": latency(dense, queries[:300]),
            "in_process_batched": batched(dense, queries[:640]),
        }
        hybrid = open_index(hybrid_dir)
        res["hybrid"] = {
            "in_process": latency(hybrid, queries[:300]),
            "in_process_batched": batched(hybrid, queries[:640]),
        }
    out["real_corpus"] = res


def synthetic_corpus(path: Path, n: int, seed: int = 0) -> list[str]:
    """Zipf-distributed pseudo-words (vocabulary 200k), 20-80 words per passage; returns sample queries."""
    rng = np.random.default_rng(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "fu", "gi", "ha", "ju", "be"]
    vocab = np.array(["".join(syll[int(c, 16)] for c in format(i + 300, "x")) for i in range(200_000)])
    queries = []
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            lengths = rng.integers(20, 81, m)
            words = vocab[np.minimum(rng.zipf(1.2, lengths.sum()) - 1, len(vocab) - 1)]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            for j in range(m):
                ws = words[offsets[j] : offsets[j + 1]]
                fh.write(
                    json.dumps({"id": f"s{start + j}", "title": " ".join(ws[:2]), "text": " ".join(ws[2:])})
                    + "\n"
                )
                if len(queries) < 2000 and rng.random() < 2000 / n * 2:
                    queries.append(" ".join(rng.choice(ws, 4, replace=False)))
    return queries


def synthetic_part(out: dict, sizes: list[int]) -> None:
    from agentdistill.retrieval.index import build_index, open_index

    res = out.setdefault("synthetic", {})
    for n in sizes:
        corpus = WORK / f"synthetic-{n}.jsonl"
        t = time.perf_counter()
        queries = synthetic_corpus(corpus, n)
        gen_s = time.perf_counter() - t
        index = WORK / f"synthetic-{n}-bm25"
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        meta = build_index(corpus, index, "bm25", progress=True, overwrite=True)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        bm25 = open_index(index)
        row = {
            "generate_s": round(gen_s, 1),
            "corpus_mb": round(corpus.stat().st_size / 1e6, 1),
            "build_s": meta["build_seconds"],
            "index_mb": round(meta["bytes"] / 1e6, 1),
            "peak_rss_mb_after_build": round(rss1 / 1024),
            "peak_rss_growth_mb": round((rss1 - rss0) / 1024),
            "load_s": round(time.perf_counter() - t, 3),
            "in_process": latency(bm25, queries, budget_s=30),
            "in_process_batched": batched(bm25, queries[:640]),
        }
        row["server_32_clients"] = through_server(index, queries, budget_s=30, max_requests=2000)
        res[f"bm25_{n}"] = row
        print(n, row, flush=True)
        corpus.unlink()


def faiss_part(out: dict, n: int = 100_000, dim: int = 384) -> None:
    import faiss

    rng = np.random.default_rng(0)
    xb = rng.standard_normal((n, dim), dtype=np.float32)
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    xq = xb[rng.choice(n, 200, replace=False)] + 0.05 * rng.standard_normal((200, dim), dtype=np.float32)
    res = {}
    flat_truth = None
    for kind in ("flat", "hnsw", "ivf"):
        t = time.perf_counter()
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
        else:
            nlist = int(4 * np.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(xb[:20_000])
            index.nprobe = 16
        index.add(xb)
        build = time.perf_counter() - t
        times = []
        found = []
        for q in xq:
            t = time.perf_counter()
            _, ids = index.search(q[None], 10)
            times.append(time.perf_counter() - t)
            found.append(ids[0])
        if kind == "flat":
            flat_truth = found
        agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, flat_truth, strict=True)])
        res[kind] = {
            "vectors": n,
            "dim": dim,
            "build_s": round(build, 2),
            "p50_ms": pct(times, 50),
            "p99_ms": pct(times, 99),
            "recall@10_vs_flat": round(float(agree), 3),
        }
        print(kind, res[kind], flush=True)
        del index
    out["faiss_random_vectors"] = res


def save(out: dict, stamp: dict) -> None:
    """Rewrite the results file with this run's parts only (never merged with an earlier run's rows)."""
    from _stamp import write_results

    write_results(RESULTS, out, stamp)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="recall,real,synthetic,faiss")
    parser.add_argument("--kinds", default="bm25,dense,hybrid")
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _stamp import start_stamp

    stamp = start_stamp()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    WORK.mkdir(parents=True, exist_ok=True)
    out: dict = {}
    out["note"] = (
        "compare ratios within one run; run.load_start of 2 means both cores were busy before it began"
    )
    out["parts"] = args.parts.split(",")
    parts = args.parts.split(",")
    for part, fn in (
        ("recall", lambda: recall_part(out, args.kinds.split(","))),
        ("real", lambda: real_part(out)),
        ("synthetic", lambda: synthetic_part(out, [int(s) for s in args.sizes.split(",")])),
        ("faiss", lambda: faiss_part(out)),
    ):
        if part in parts:
            fn()
            out.setdefault("measured_at", {})[part] = time.strftime("%Y-%m-%d %H:%M:%S")
            save(out, stamp)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

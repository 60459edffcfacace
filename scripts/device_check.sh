#!/usr/bin/env bash
# One prepared device check for a session lent a GPU (the device tool's `run`): the cuda tests, the per-step cost of
# the scaled CIFAR net in every way the package can run it (`bench --step-costs`: eager fp32, bf16 + channels_last,
# train.train as it runs, eval, torch.compile default and reduce-overhead, the batched trainer at K = 3 and 8,
# Figure 1's group), `bench` (ours against torchvision's AlexNet with a DataLoader, with MFU), and
# `reproduce --profile full` on the CIFAR-10 images that fit the transfer limit, under a time guard, writing JSON
# and logs under $OUT.
#
# BUDGET (LIMIT_S = 500 s; each part stops or is cut at its share, the rest goes on):
#   env + data decode (in the background during the tests)   ~5 s
#   1. cuda + batched tests                                    <= 100 s (timeout)
#   2. step costs (its own time guard 100 s; timeout 140 s)   <= 140 s  <- what `reproduce --plan` needs most
#   3. bench                                                   <= min(120 s, a third of what is left)
#   4. reproduce --profile full                                the rest, minus 25 s for packing
#
# HOW TO CALL IT (from the checkout the session sends: the lead's main, after merging):
#   1. here, once:   python scripts/prepare_device_data.py
#      (copies all 5,000 test images and as many training images as fit, equal per class, into the git-ignored
#      data/device/cifar10/{train,test}; it measures the tree and prints the total, which must stay under 64 MiB:
#      on 2026-11-30 that was 40,880 training images, 62.5 MiB in all)
#   2. the device tool:
#        run(command="bash scripts/device_check.sh", carry=["data/device"], timeout_s=560)
#      The script stops starting new work at LIMIT_S (default 500 s) and always packs what it has, so it ends
#      inside the call's limit. Give the machine back afterwards (give_back) unless you rerun at once.
#   3. what comes back (at most 8 files, under files_at): env.txt, tests.log, bench.json (with the step costs under
#      "step_costs"), bench.log (with the step costs' log), reproduce.log, reproduce.json, results.tgz (every stored
#      result), summary.txt (the step-cost table and the projection made from it).
#   4. here: python -m alexnet reproduce --plan --profile full --from-bench <files_at>/bench.json
#      projects the full profile from the measured step costs (summary.txt already holds that projection).
#
# HOW THE RESULTS GET INTO THE BOOK: unpack results.tgz into the book's full-scale store (the scorecard's "full
# scale" column and each chapter's full-scale line read it), leaving out the run's record:
#      mkdir -p alexnet/stored_results/full && tar -xzf <files_at>/results.tgz -C alexnet/stored_results/full \
#        --exclude=./reproduce.json
#   Each record carries its scale (profile "full", device, dataset size, epochs, seeds) and its provenance (code
#   version, device, wall time); reproduce.json has the device name, img/s and MFU per job. Commit them with the
#   device, date and the call above named in the commit message. A later
#   `ALEXNET_STORE_RESULTS=1 python -m alexnet reproduce --profile full` reuses every result whose code and scale
#   are unchanged (alexnet.results.reusable_result) and says so.
set -u -o pipefail
OUT=${OUT:-/tmp/alexnet-device-check}
mkdir -p "$OUT"
T0=$(date +%s)
LIMIT_S=${LIMIT_S:-500}
left() { echo $(( LIMIT_S - ($(date +%s) - T0) )); }
export PYTHONUNBUFFERED=1 ALEXNET_OFFLINE=1 ALEXNET_STATIC=1 ALEXNET_DATA="$PWD/data/device"
PY=${PYTHON:-python3}

{ nvidia-smi; $PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__,
  'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')";
  cat data/device/MANIFEST.json 2>/dev/null; git rev-parse HEAD 2>/dev/null; } > "$OUT/env.txt" 2>&1

# decode the JPEGs once into the uint8 cache while the tests run (the tests need no data)
$PY -c "from alexnet.data import load_imageset as L; print(len(L('cifar10','train',progress=False)), len(L('cifar10','test',progress=False)))" \
  > "$OUT/decode.log" 2>&1 &
DECODE=$!

# 1. the cuda tests and the batched trainer's tests (CPU twins included)
timeout 100 $PY -m pytest tests/test_cuda.py tests/test_batched.py -q -p no:nbmake -o addopts="" -p no:cacheprovider \
  2>&1 | tee "$OUT/tests.log" | tail -3
wait $DECODE; cat "$OUT/decode.log" >> "$OUT/tests.log"

# 2. the per-step cost of the scaled CIFAR net, every variant under its own time guard; each row is also logged
#    as it comes, so that a run cut by the timeout still leaves its rows in step_costs.log
timeout 140 $PY -m alexnet bench --step-costs --json --budget 100 > "$OUT/step_costs.json" 2> "$OUT/step_costs.log"
echo "step costs rc=$? after $(( $(date +%s) - T0 )) s" >> "$OUT/step_costs.log"

# 3. bench: ours against torchvision's AlexNet with a DataLoader, and MFU
B=$(( $(left) < 360 ? $(left) / 3 : 120 ))
timeout "$B" $PY -m alexnet bench --json > "$OUT/bench.json" 2> "$OUT/bench.log"
echo "bench rc=$? in ${B}s budget" >> "$OUT/bench.log"

# 4. the whole scorecard at full scale, under a time guard: no job starts that would end past the budget
R=$(( $(left) - 25 ))
if [ "$R" -gt 30 ]; then
  timeout $(( R + 15 )) $PY -m alexnet reproduce --profile full --out "$OUT/results" --budget "$R" --quiet \
    2>&1 | tee "$OUT/reproduce.log" | tail -25
else
  echo "no time left for reproduce ($R s)" > "$OUT/reproduce.log"
fi

# pack: at most 8 files come back
[ -f "$OUT/results/reproduce.json" ] && cp "$OUT/results/reproduce.json" "$OUT/reproduce.json"
[ -d "$OUT/results" ] && tar -czf "$OUT/results.tgz" -C "$OUT/results" . && rm -rf "$OUT/results"
rm -f "$OUT/decode.log"
$PY scripts/merge_step_costs.py "$OUT" > "$OUT/summary.txt" 2>&1
$PY - "$OUT" <<'PY' >> "$OUT/summary.txt" 2>&1
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for name in ("bench.json", "reproduce.json"):
    p = out / name
    try:
        d = json.loads(p.read_text())
    except Exception as e:
        print(f"{name}: unreadable ({type(e).__name__})"); continue
    if name == "reproduce.json":
        for j, r in d["jobs"].items():
            print(f"{j:<14}{r['status']:<24}{r.get('seconds', 0):>8.1f} s{r.get('images_per_second', 0):>12,.0f} img/s"
                  f"  MFU {r.get('mfu') if r.get('mfu') is None else format(r['mfu'], '.1%')}")
        print(f"reproduce wall {d['seconds']:.0f} s on {d['device']}")
    else:
        print("bench:", {k: d.get(k) for k in ("device_name", "a_img_s", "b_img_s", "ratio", "mfu_a", "mfu_b",
                                                "mfu_step_best", "best_variant", "total_seconds")})
PY
cat "$OUT/summary.txt"
echo "device check: $(( $(date +%s) - T0 )) s"

"""Part of scripts/device_check.sh: put the step costs (step_costs.json, or the rows its log kept if the run was cut
short) into bench.json under "step_costs", append their log to bench.log, and print the step-cost table and the
full profile projected from it (what `reproduce --plan --profile full --from-bench bench.json` prints)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's package, wherever python3 runs from
from alexnet.bench.report import format_step_costs  # noqa: E402
from alexnet.bench.step_costs import read_step_cost_run  # noqa: E402
from alexnet.plan import format_measured_projection  # noqa: E402

out = Path(sys.argv[1])
costs = read_step_cost_run(out / "step_costs.json", out / "step_costs.log")
try:
    bench = json.loads((out / "bench.json").read_text())
except (OSError, ValueError) as e:
    bench = {"bench_error": f"bench.json unreadable ({type(e).__name__}): see bench.log"}
bench["step_costs"] = costs
(out / "bench.json").write_text(json.dumps(bench))
with open(out / "bench.log", "a") as log:
    log.write("\n--- step costs (bench --step-costs) ---\n")
    log.write((out / "step_costs.log").read_text(errors="replace") if (out / "step_costs.log").exists() else "no log\n")
for name in ("step_costs.json", "step_costs.log"):
    (out / name).unlink(missing_ok=True)
print(format_step_costs(costs))
print()
print(format_measured_projection("full", out / "bench.json"))

#!/usr/bin/env python
"""Every GPU check of dnd_nano in one go, with its figures in one JSON (`OUT/gpu_checks.json`):

1. `dnd_nano_compare --preset gpu --jobs 4`: the comparison of the variants, sized for a few minutes on one large GPU
   (four runs at a time: the small models leave most of the GPU idle);
2. `dnd_nano_bench --preset large --amp --compile`: speed, memory and MFU of every variant in bf16, compiled or not;
3. `dnd_nano_demo --preset gpu`: the whole pipeline on text images.

    python .ci/gpu_checks.py --out runs/gpu [--device cuda] [--stages compare,bench,demo] [--resume]

Each stage writes the JSON when it ends, so an interrupted run keeps what finished; a stage that fails is recorded
with its error and the others still run (the exit status is then 1). `--quick` runs the same stages at test sizes on
any device, which is how the tests check the plumbing without a GPU.
"""
import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's package, installed or not
import torch
from dnd_nano.core import default_device
from dnd_nano.checkpoint import atomic_write
from dnd_nano.compare import compare_main, format_table
from dnd_nano.bench import bench_main
from dnd_nano.cli import demo_main

STAGES = ('compare', 'bench', 'demo')

def stage_args(name: str, out: Path, device: str, quick: bool, again: list) -> list:
    "The command line of one stage."
    if name == 'compare':
        a = ['--preset', 'test' if quick else 'gpu', '--out', str(out/'compare'), '--device', device, *again]
        return a + (['--variants', 'dnd,1d', '--set', 'seeds=1', 'placements='] if quick else ['--jobs', '4'])
    if name == 'bench':
        a = ['--preset', 'toy' if quick else 'large', '--device', device, '--json', str(out/'bench.json')]
        return a + (['--no-amp', '--no-compile', '--steps', '1', '--sample-reps', '1'] if quick else ['--amp', '--compile'])
    return ['--preset', 'test' if quick else 'gpu', '--out', str(out/'demo'), '--samples', str(out/'demo_samples.png'),
            '--device', device, *again]

def summary(name: str, res):
    "What the JSON keeps of a stage's result."
    if name == 'compare':
        return {'table': format_table(res), 'summary': res['summary'], 'costs': res['costs'], 'wall_s': res['wall_s'],
                'tokenizers': res['tokenizers'], 'config': res['config']}
    return res

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='runs/gpu', help='folder for everything (default %(default)s)')
    p.add_argument('--device', default=None, help='default: the best available')
    p.add_argument('--stages', default=','.join(STAGES), help='comma-separated, among ' + ','.join(STAGES))
    p.add_argument('--resume', action='store_true', help='continue interrupted stages from their checkpoints')
    p.add_argument('--quick', action='store_true', help='test sizes, to check the plumbing')
    a = p.parse_args(argv)
    stages = [s.strip() for s in a.stages.split(',') if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad or not stages: p.error(f"--stages {a.stages}: choose among {', '.join(STAGES)}")
    device, out = str(default_device(a.device)), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out/'gpu_checks.json'
    res = json.loads(path.read_text()) if a.resume and path.exists() else {}
    res.update(device=device, device_name=torch.cuda.get_device_name() if device.startswith('cuda') else None,
               torch=torch.__version__, quick=a.quick)
    res.setdefault('seconds', {})
    again = ['--resume'] if a.resume else ['--overwrite']
    fns = {'compare': compare_main, 'bench': bench_main, 'demo': demo_main}
    failed = False
    for name in stages:
        t0 = time.perf_counter()
        print(f"== {name}: {' '.join(stage_args(name, out, device, a.quick, again))}", flush=True)
        try: res[name] = summary(name, fns[name](stage_args(name, out, device, a.quick, again)))
        except Exception as e:  # the other stages still run
            res[name], failed = {'error': f'{type(e).__name__}: {e}'}, True
            print(f"== {name} failed: {res[name]['error']}", flush=True)
        res['seconds'][name] = time.perf_counter() - t0
        atomic_write(path, lambda f: f.write(json.dumps(res, indent=1, default=str).encode()), 'results file')
        print(f"== {name}: {res['seconds'][name]:.0f} s", flush=True)
    print(f"wrote {path}")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())

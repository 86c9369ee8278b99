#!/usr/bin/env python
"""Every GPU check of dnd_nano in one go, within a time budget, with its figures in one JSON (`gpu_checks.json`):

1. `compare`: `dnd_nano_compare --preset gpu` at today's defaults: dnd, dnd-x1 (the plain sum), vertical, parallel,
   flat, rq and 1d, three seeds each, `--compare-steps` steps (the preset's 500 stop while the curves still fall);
2. `fashion`: `dnd_nano_compare --preset fashion` at its full budget (1,400 steps, every variant), one seed after
   another (a seed starts only if it can end in its time);
3. `bench`: speed at the `large` preset, bf16, compiled: tokens/s, peak memory and MFU of every variant's training
   step, then sampling with and without the captured CUDA-graph step; the profile of `dnd`'s step if its MFU is
   under 35%;
4. `demo`: `dnd_nano_demo --preset gpu`, its time per step and its scores.

    python .ci/gpu_checks.py --out /tmp/gpu --export $OUT [--budget 500] [--stages compare,fashion,bench,demo]

The small models of `compare`, `fashion` and `demo` leave most of a large GPU idle, so they run at the same time, each
in a process of its own (the comparisons with several runs at once); while they run, another process compiles the
training step of every bench variant once, which fills the compiler's cache on disk. The bench then runs alone, so
that its timings are its own, and finds its compiled steps in that cache. Every stage has a deadline within
`--budget` seconds: a comparison stopped at its deadline keeps the runs that finished, the bench the variants that
finished. Whatever does not fit is cut in this order: seeds of `fashion`, then the bench's variants other than
`dnd` (their sampling, then their training), then, at their deadline, runs of `compare` and the demo.

The JSON is written (and copied to `--export` with the logs and the main figures) each time a stage ends. A stage that
fails is recorded with its error and the others still run (the exit status is then 1). `--quick` runs the same stages
at test sizes on any device (without `fashion` unless named, since Fashion-MNIST may be absent), which is how the
tests check the plumbing without a GPU.
"""
import time
T0 = time.time()  # the budget counts from here, before the imports
import argparse, contextlib, gzip, io, json, os, re, shutil, signal, subprocess, sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))  # this checkout's package, installed or not

STAGES = ('compare', 'fashion', 'bench', 'demo')
CONCURRENT = ('compare', 'fashion', 'demo')          # run side by side; the bench runs after them, alone
COMPARE_VARIANTS = 'dnd,vertical,parallel,flat,rq,1d'  # with dnd-x1 from the presets' inject_scales=(1.0,)
BENCH_ORDER = ('dnd', 'flat', 'rq', 'vertical', 'parallel')  # the order in which bench variants are kept
FASHION_FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
EXPORTS = {'compare/curves.png': 'compare_curves.png', 'compare/bars.png': 'compare_bars.png',
           'compare/samples_all.png': 'compare_samples.png', 'fashion/bars.png': 'fashion_bars.png',
           'fashion/samples_all.png': 'fashion_samples.png', 'demo_samples.png': 'demo_samples.png'}  # + JSON, log: 8
# Seconds each bench part is expected to take on one H200 with the compiled steps in the cache (see gpu_command notes).
BENCH_TRAIN_S = {'dnd': 25, 'flat': 35, 'rq': 30, 'vertical': 20, 'parallel': 20}
BENCH_SAMPLE_S = {'dnd': 20, 'flat': 30, 'rq': 25, 'vertical': 10, 'parallel': 10}
QUICK_SET = ['tok_steps=4', 'tok_batch=8', 'tok_set=channels=16,latent_dim=8,codebook_size=32,n_depth=2', 'n_train=256',
             'n_test=16', 'model_set=n_layer=4,n_embd=32,n_head=2', 'steps=6', 'batch_size=8', 'eval_every=3',
             'curve_n=8', 'n_samples=8', 'classifier_steps=3', 'inject_scales=']

def now() -> float: return time.time() - T0

def write_json(path: Path, obj):
    "Write `obj` as JSON to `path` atomically (a reader never sees half a file)."
    tmp = path.with_name(path.name + '.tmp')
    tmp.write_text(json.dumps(obj, indent=1, default=str)); os.replace(tmp, path)

def read_json(path: Path, default=None):
    try: return json.loads(Path(path).read_text())
    except (OSError, ValueError): return default

# ---------------------------------------------------------------------------------------------------------- stages
def compare_args(a, quick_set=()) -> list:
    again = ['--resume'] if a.resume else ['--overwrite']
    if a.quick: return ['--preset', 'test', '--variants', 'dnd,1d', '--set', 'seeds=1', 'placements=', *again]
    return ['--preset', 'gpu', '--variants', COMPARE_VARIANTS, '--jobs', str(a.jobs), '--set', f'steps={a.compare_steps}',
            f'eval_every={max(a.compare_steps // 8, 1)}', 'placements=', 'inject_scales=1', *again]

def compare_summary(res: dict) -> dict:
    "What the JSON keeps of a comparison: the table, the figures with their spread, the curves, the costs."
    from dnd_nano.compare import format_table
    runs = {n: [{k: r.get(k) for k in ('seed', 'heldout', 'samples', 'train_wall_s')} for r in rs]
            for n, rs in res['runs'].items()}
    return {'table': format_table(res), 'summary': res['summary'], 'costs': res['costs'], 'wall_s': res['wall_s'],
            'tokenizers': res['tokenizers'], 'config': res['config'], 'specs': res['specs'], 'runs': runs,
            'curves': res['curves'], 'classifier': res.get('classifier')}

def salvage(folder: Path, steps=None) -> dict:
    "The runs of a comparison stopped before its end that did finish (result.json written), summarized."
    from dnd_nano.compare import summarize
    runs, curves = {}, {}
    for p in sorted((folder/'runs').glob('*/result.json')):
        r = read_json(p)
        if not r or (steps and r.get('steps') != steps): continue
        runs.setdefault(r['name'], []).append(r)
        curves.setdefault(r['name'], []).append(read_json(p.parent/'curve.json', []))
    out = {'partial': True, 'runs_done': {n: [r['seed'] for r in rs] for n, rs in runs.items()},
           'summary': summarize(runs) if runs else {}, 'curves': curves,
           'runs': {n: [{k: r.get(k) for k in ('seed', 'heldout', 'samples', 'train_wall_s')} for r in rs]
                    for n, rs in runs.items()}}
    return out

def samples_grid(folder: Path, n: int = 16):
    "One figure of the first `n` samples of seed 0 of every run of a comparison in `folder`: samples_all.png."
    try:
        import torch, matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        runs = sorted(p for p in (folder/'runs').glob('*_seed0') if (p/'samples.pt').exists())
        if not runs: return
        fig, axs = plt.subplots(len(runs), 1, figsize=(n * 0.55, len(runs) * 0.7), squeeze=False)
        for ax, p in zip(axs[:, 0], runs):
            x = torch.load(p/'samples.pt')[:n].float() / 255  # (n, C, H, W)
            row = torch.cat(list(x), dim=-1).permute(1, 2, 0)
            ax.imshow(row[..., 0] if row.shape[-1] == 1 else row, cmap='gray', vmin=0, vmax=1, interpolation='nearest')
            ax.set_xticks([]); ax.set_yticks([])
            ax.set_ylabel(p.name[:-len('_seed0')], rotation=0, ha='right', va='center', fontsize=9)
        fig.tight_layout(pad=0.3); fig.savefig(folder/'samples_all.png', dpi=110); plt.close(fig)
    except Exception as e: print(f'samples_grid: {type(e).__name__}: {e}', flush=True)  # a figure never fails a stage

def stage_compare(a, work: Path) -> dict:
    from dnd_nano.compare import compare_main
    res = compare_summary(compare_main([*compare_args(a), '--out', str(work/'compare'), '--device', a.device]))
    samples_grid(work/'compare')
    return res

def fashion_root(a, work: Path) -> str:
    "The --root of Fashion-MNIST: torchvision's layout made from the .gz files in --fashion-gz if there, else 'data'."
    src = Path(a.fashion_gz) if a.fashion_gz else None
    if not src or not all((src/f'{f}.gz').exists() or (src/f).exists() for f in FASHION_FILES): return 'data'
    raw = work/'data'/'FashionMNIST'/'raw'
    raw.mkdir(parents=True, exist_ok=True)
    for f in FASHION_FILES:
        if (raw/f).exists(): continue
        if (src/f).exists(): shutil.copyfile(src/f, raw/f)
        else:
            with gzip.open(src/f'{f}.gz', 'rb') as i, open(raw/f'{f}.part', 'wb') as o: shutil.copyfileobj(i, o)
            os.replace(raw/f'{f}.part', raw/f)
    return str(work/'data')

def stage_fashion(a, work: Path) -> dict:
    "Seed after seed (each a --resume of the one before, all variants), while the next can end before a.until."
    from dnd_nano.compare import compare_main
    root, out, done, took = fashion_root(a, work), work/'fashion', None, []
    size = QUICK_SET if a.quick else []
    variants = ['--variants', 'dnd,1d'] if a.quick else []
    for seeds in range(1, a.fashion_seeds + 1):
        est = 1.15 * (took[-1] if len(took) > 1 else 0.7 * took[0]) if took else 0  # the first seed also made the tokenizers
        if done and now() + est > a.until:
            print(f"== fashion: seed {seeds} not started: it would end after the deadline "
                  f"({now():.0f} s + {est:.0f} s > {a.until:.0f} s)", flush=True)
            break
        t = time.perf_counter()
        again = ['--resume'] if seeds > 1 or a.resume else ['--overwrite']
        res = compare_main(['--data', 'fashion_mnist', '--preset', 'fashion', '--out', str(out), '--device', a.device,
                            '--root', root, '--jobs', str(a.fashion_jobs if not a.quick else 1), *variants,
                            '--set', f'seeds={seeds}', *size, *again])
        took.append(time.perf_counter() - t)
        done = {**compare_summary(res), 'seeds_done': seeds, 'seconds_per_seed': took}
        samples_grid(out)
        write_json(work/'fashion.json', done)  # kept if the next seed is stopped
    return done

def stage_bench(a, work: Path) -> dict:
    """The training step (compiled, bf16) and the sampling of each variant, in the order of TASKS, each only if its
    estimate ends before a.until; the figures are written as they come, so a stop keeps what finished."""
    import torch
    from dnd_nano.bench import bench_training, bench_sampling, peak_tflops, peak_rss_mb
    from dnd_nano.speed import profile_train_step
    from dnd_nano.core import default_device
    from dnd_nano.model import DnDConfig
    dev = default_device(a.device)
    cuda = dev.type == 'cuda'
    preset = a.bench_preset or ('toy' if a.quick else 'large')
    amp, compile = (False, False) if a.quick else (cuda and torch.cuda.is_bf16_supported(), cuda)
    name = torch.cuda.get_device_name(dev) if cuda else 'cpu'
    peak = peak_tflops(name) if cuda else None
    steps, warmup = (1, 1) if a.quick else (5, 2)
    decoder = 'graph' if cuda and not a.quick else None
    if cuda: torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    res = {'preset': preset, 'config': dataclasses_asdict(DnDConfig.preset(preset)), 'device': str(dev),
           'device_name': name, 'torch': torch.__version__, 'batch': 32, 'steps': steps, 'warmup': warmup,
           'sample_batch': 8, 'amp_bf16': amp, 'compile': compile, 'peak_tflops': peak, 'decoder': decoder,
           'flop_count': FLOP_NOTE, 'memory_kind': 'cuda max_memory_allocated' if cuda else 'estimate',
           'variants': {}, 'skipped': {}, 'seconds': {}}
    path, scale, models = work/'bench.json', 1.0, {}  # scale: measured / expected seconds, from dnd's training
    for kind, v in TASKS:
        if kind == 'sample' and v not in models: continue
        est = (BENCH_TRAIN_S if kind == 'train' else BENCH_SAMPLE_S)[v] * scale
        if not a.quick and now() + est > a.until:
            res['skipped'][f'{v} {kind}'] = f'not started: {now():.0f} s + {est:.0f} s estimated > {a.until:.0f} s'
            write_json(path, res); continue
        t = time.perf_counter()
        if kind == 'train':
            r, models[v] = bench_training(DnDConfig.preset(preset, variant=v), dev, 32, steps, warmup, compile, amp, peak)
            res['variants'][v] = r
            print(f"== bench {v} training: {time.perf_counter() - t:.1f} s, {r['train_tokens_per_s']:,.0f} tok/s, "
                  f"MFU {r.get('mfu', float('nan')):.1%}, compiled {r.get('mfu_compiled', float('nan')):.1%}, "
                  f"{r['peak_mem_mb']:.0f} MB", flush=True)
            if v == 'dnd' and not a.quick: scale = max(0.5, (time.perf_counter() - t) / BENCH_TRAIN_S['dnd'])
            if v == 'dnd' and (a.quick or r.get('mfu_compiled', r.get('mfu', 0)) < 0.35):  # where the time goes
                m = models[v]
                with torch.autocast(dev.type, torch.bfloat16, enabled=amp):
                    res['profile_dnd_eager'] = profile_train_step(m, random_batch(m, 32, dev), steps=2)
                m.zero_grad(set_to_none=True); m.eval()
        else:
            m = models[v] if v == 'dnd' else models.pop(v)  # dnd's model is kept for the compiled profile
            s = bench_sampling({v: m}, dev, 8, 1 if a.quick else 3 if v == 'dnd' else 2, amp, 1.0, ('dnd',), decoder)[v]
            cfg = m.config
            s['sample_images_per_s'] = 8 / s['sample_s']
            if decoder: s[f'sample_images_per_s_{decoder}'] = 8 / s[f'sample_s_{decoder}']
            s['sample_steps'] = cfg.grid[0] * cfg.grid[1] * {'flat': cfg.n_depth, 'rq': 1 + cfg.n_depth}.get(v, 1)
            res['variants'][v].update(s)
            del m
            if cuda: torch.cuda.empty_cache()
        res['seconds'][f'{v} {kind}'] = time.perf_counter() - t
        print(f"== bench {v} {kind}: {res['seconds'][f'{v} {kind}']:.1f} s (at {now():.0f} s)", flush=True)
        res['ratios'] = bench_ratios(res['variants'], decoder)
        write_json(path, res)
    dnd = res['variants'].get('dnd', {})
    if 'dnd' in models and compile and dnd.get('mfu_compiled', 1) < 0.35 and now() + 25 * scale < a.until:
        t = time.perf_counter()
        res['profile_dnd_compiled'] = profile_compiled(models['dnd'], random_batch(models['dnd'], 32, dev), amp)
        res['seconds']['dnd compiled profile'] = time.perf_counter() - t
    res['peak_rss_mb'] = peak_rss_mb()
    return res

TASKS = [('train', 'dnd'), ('sample', 'dnd'), *(('train', v) for v in BENCH_ORDER[1:]),
         *(('sample', v) for v in BENCH_ORDER[1:])]
FLOP_NOTE = ("dnd_nano.bench.train_flops_per_image: per image, forward + backward = 6 x (the blocks' matrix "
             "parameters, 4C^2 + 3C x SwiGLU hidden per layer) per token, + 12 x n_layer x C x T^2 per sequence for "
             "attention, + 6 x C x V per code for the heads (flat: one sequence of H*W*D tokens; rq: the depth "
             "stack on D tokens per position); MFU = FLOPs per image / seconds per image / 989e12 (H200 dense bf16)")

def random_batch(m, batch: int, dev):
    import torch
    H, W = m.config.grid
    return (torch.randint(0, m.config.vocab_size, (batch, H, W, m.config.n_depth), device=dev),
            torch.randint(0, max(m.config.n_classes, 1), (batch,), device=dev))

def profile_compiled(model, batch, amp: bool, top: int = 15) -> dict:
    "The compiled training step under torch.profiler: its wall time and its kernels that take the most GPU time."
    import torch
    from dnd_nano.train import TrainingStep
    from dnd_nano.core import sync
    dev = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    step = torch.compile(TrainingStep(model.train()))
    def one():
        with torch.autocast(dev.type, torch.bfloat16, enabled=amp): loss = step(batch)['loss']
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    for _ in range(3): one()
    sync(dev)
    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=acts) as prof:
        t = time.perf_counter()
        for _ in range(2): one()
        sync(dev); wall = (time.perf_counter() - t) / 2 * 1000
    ev = [e for e in prof.key_averages() if e.self_device_time_total > 0]
    gpu = sum(e.self_device_time_total for e in ev) / 2 / 1000
    ev.sort(key=lambda e: -e.self_device_time_total)
    torch._dynamo.reset()
    return {'wall_ms': wall, 'gpu_busy_ms': gpu, 'launch_or_idle_ms': max(wall - gpu, 0.0),
            'top_kernels': [{'name': e.key[:120], 'ms_per_step': e.self_device_time_total / 2 / 1000,
                             'calls_per_step': e.count / 2} for e in ev[:top]]}

def dataclasses_asdict(x):
    import dataclasses
    return dataclasses.asdict(x)

def bench_ratios(vs: dict, decoder) -> dict:
    r = {}
    if 'sample_s' in vs.get('dnd', {}) and 'sample_s' in vs.get('flat', {}):
        r['sample_dnd_over_flat'] = vs['dnd']['sample_s'] / vs['flat']['sample_s']
    if 'dnd' in vs and 'flat' in vs: r['train_per_image_dnd_over_flat'] = vs['dnd']['train_s_per_image'] / vs['flat']['train_s_per_image']
    if 'sample_s_no_cache' in vs.get('dnd', {}): r['cache_speedup_dnd'] = vs['dnd']['sample_s_no_cache'] / vs['dnd']['sample_s']
    if decoder:
        for v, x in vs.items():
            if f'sample_s_{decoder}' in x: r[f'{decoder}_speedup_{v}'] = x['sample_s'] / x[f'sample_s_{decoder}']
    return r

def stage_warm(a, work: Path) -> dict:
    "Compile the bench's training step of every variant once, as the bench will, to fill the compiler's disk cache."
    import torch
    from dnd_nano.bench import bench_training
    from dnd_nano.core import default_device
    from dnd_nano.model import DnDConfig
    dev, out = default_device(a.device), {}
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # as the bench sets them
    for v in BENCH_ORDER:
        if now() > a.until: break
        t = time.perf_counter()
        bench_training(DnDConfig.preset(a.bench_preset or 'large', variant=v), dev, 32, 1, 0, True,
                       dev.type == 'cuda' and torch.cuda.is_bf16_supported(), None)
        torch.cuda.empty_cache()
        out[v] = time.perf_counter() - t
        print(f"== warm {v}: {out[v]:.1f} s", flush=True)
        write_json(work/'warm.json', out)
    return out

class Tee(io.TextIOBase):
    "A stream that writes to another and keeps a copy."
    def __init__(self, s): self.s, self.buf = s, io.StringIO()
    def write(self, x): self.buf.write(x); return self.s.write(x)
    def flush(self): self.s.flush()

def stage_demo(a, work: Path) -> dict:
    from dnd_nano.cli import demo_main
    tee = Tee(sys.stdout)
    t = time.perf_counter()
    with contextlib.redirect_stdout(tee), contextlib.redirect_stderr(Tee(sys.stderr)) as err:
        scores = demo_main(['--preset', 'test' if a.quick else 'gpu', '--out', str(work/'demo'), '--samples',
                            str(work/'demo_samples.png'), '--device', a.device, '--resume' if a.resume else '--overwrite'])
    text = tee.buf.getvalue() + err.buf.getvalue()
    m = re.search(r'seconds per step: (.*?); done in (\d+) s', text)
    steps = {k: float(v) for k, v in re.findall(r'(\w+) (\d+(?:\.\d+)?)', m.group(1))} if m else None
    out = {**scores, 'seconds_per_step': steps, 'wall_s': time.perf_counter() - t}
    try: out.update(demo_chance(a, work))
    except Exception as e: out['chance_error'] = f'{type(e).__name__}: {e}'
    return out

def demo_chance(a, work: Path) -> dict:
    """The demo's scores with their chance level: its 64 samples drawn again as `dnd_nano_sample` drew them (seed 0,
    temperature 0.7, batches of 64), then 512 more (seed 1) for a steadier estimate, scored by `text_sample_scores`."""
    import torch
    from dnd_nano.checkpoint import load_model
    from dnd_nano.core import default_device
    from dnd_nano.eval import text_sample_scores
    from dnd_nano.model import DnDTransformer
    from dnd_nano.sample import sample_images
    from dnd_nano.text import TextImages
    from dnd_nano.tokenizer import RQVAE
    dev = default_device(a.device)
    model = load_model(work/'demo'/'dnd'/'model.pt', DnDTransformer, device=dev)
    tok = load_model(work/'demo'/'tokenizer'/'tokenizer.pt', RQVAE, device=dev)
    keys = ('legible', 'valid', 'lines_legible', 'lines_valid', 'chance_given_legible', 'lines_valid_chance', 'over_chance')
    out = {}
    for name, n, seed in (('scores_64_with_chance', 64, 0), ('scores_512_with_chance', 8 if a.quick else 512, 1)):
        g = torch.Generator(device=dev).manual_seed(seed)
        imgs = sample_images(model, tok, None, n, batch_size=64, temperature=0.7, generator=g)
        s = text_sample_scores(imgs, TextImages(n=1).config)[0]
        out[name] = {k: s[k] for k in keys if k in s}
    return out

STAGE_FNS = {'compare': stage_compare, 'fashion': stage_fashion, 'bench': stage_bench, 'demo': stage_demo,
             'warm': stage_warm}

def child(a) -> int:
    "Run one stage in this process; its result goes to WORK/<stage>.json."
    work = Path(a.out)
    try:
        res = STAGE_FNS[a.child](a, work)
        write_json(work/f'{a.child}.json', res)
        return 0
    except Exception as e:
        import traceback; traceback.print_exc()
        write_json(work/f'{a.child}.error.json', {'error': f'{type(e).__name__}: {e}'})
        return 1

# ---------------------------------------------------------------------------------------------------------- parent
class Stage:
    "One stage as a child process (its own process group, so that a stop ends its pool workers too)."
    def __init__(self, name, a, work: Path, until: float, kill_at: float, env=None):
        self.name, self.work, self.kill_at, self.t0 = name, work, kill_at, now()
        cmd = [sys.executable, str(HERE), '--child', name, '--out', str(work), '--until', f'{until:.1f}',
               '--t0', repr(T0), *passthrough(a)]
        self.log = open(work/'logs'/f'{name}.log', 'w')
        print(f"== {name}: started at {now():.0f} s (deadline {until:.0f} s, stopped at {kill_at:.0f} s)", flush=True)
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, **(env or {})})
        self.killed = False
    def poll(self):
        if self.p.poll() is None and now() > self.kill_at:
            with contextlib.suppress(ProcessLookupError): os.killpg(self.p.pid, signal.SIGTERM)
            try: self.p.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError): os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
            self.killed = True
        rc = self.p.poll()
        if rc is not None:
            with contextlib.suppress(ProcessLookupError): os.killpg(self.p.pid, signal.SIGKILL)  # stray pool workers
            self.log.close()
        return rc

def passthrough(a) -> list:
    x = ['--device', a.device, '--jobs', str(a.jobs), '--fashion-jobs', str(a.fashion_jobs), '--compare-steps', str(a.compare_steps),
         '--fashion-seeds', str(a.fashion_seeds)]
    if a.fashion_gz: x += ['--fashion-gz', a.fashion_gz]
    if a.bench_preset: x += ['--bench-preset', a.bench_preset]
    return x + (['--quick'] if a.quick else []) + (['--resume'] if a.resume else [])

def finish(st: Stage, rc: int, a) -> dict:
    "The record of a stage that ended: its figures, or what finished before its stop, or its error."
    work, name = st.work, st.name
    res = read_json(work/f'{name}.json')
    if rc == 0 and res is not None: return res
    why = (f'stopped at its deadline ({st.kill_at:.0f} s of the budget)' if st.killed else
           read_json(work/f'{name}.error.json', {}).get('error') or f'exit status {rc}; see the log')
    kept = {}
    if name == 'compare': kept = salvage(work/'compare', None if a.quick else a.compare_steps)
    elif name == 'fashion': kept = res or salvage(work/'fashion')  # the last whole seed, else the runs that finished
    elif name == 'bench': kept = read_json(work/'bench.json', {})
    elif name == 'warm': kept = read_json(work/'warm.json', {})
    return {**kept, 'error': why, 'stopped': st.killed}

def export(work: Path, dest, res: dict):
    "Copy the JSON, the logs (their ends) and the main figures to `dest`."
    if not dest: return
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    write_json(dest/'gpu_checks.json', res)
    parts = []
    for p in sorted((work/'logs').glob('*.log')):
        s = p.read_text(errors='replace')
        parts.append(f"===== {p.name} ({len(s)} characters, the last 600,000 kept)\n{s[-600_000:]}")
    (dest/'gpu_checks.log').write_text('\n'.join(parts))
    for src, name in EXPORTS.items():
        if (work/src).exists(): shutil.copyfile(work/src, dest/name)

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='runs/gpu', help='folder for everything (default %(default)s)')
    p.add_argument('--export', default=None, help='folder to copy the JSON, the logs and the main figures to')
    p.add_argument('--device', default=None, help='default: the best available')
    p.add_argument('--stages', default=None, help='comma-separated, among ' + ','.join(STAGES) +
                   ' (default: all; with --quick all but fashion)')
    p.add_argument('--budget', type=float, default=None, help='seconds for everything (default 500; --quick 3000)')
    p.add_argument('--compare-steps', type=int, default=700, help='training steps of the gpu comparison (default 700)')
    p.add_argument('--fashion-seeds', type=int, default=3, help='seeds of Fashion-MNIST at most (default 3)')
    p.add_argument('--fashion-gz', default='.gpudata/fashion-mnist',
                   help="folder of Fashion-MNIST's four idx files (.gz or not), where Debian's package is missing "
                        '(default %(default)s; absent: the loader\'s own places)')
    p.add_argument('--jobs', type=int, default=7, help='runs at a time in the gpu comparison (default 7: a seed of each)')
    p.add_argument('--fashion-jobs', type=int, default=4, help='runs at a time in the Fashion-MNIST one (default 4)')
    p.add_argument('--resume', action='store_true', help='continue interrupted stages from their checkpoints')
    p.add_argument('--quick', action='store_true', help='test sizes, to check the plumbing')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    p.add_argument('--until', type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument('--t0', type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument('--bench-preset', default=None, help=argparse.SUPPRESS)  # default: large (--quick: toy)
    a = p.parse_args(argv)
    global T0
    if a.t0: T0 = a.t0
    if a.child:
        a.until = a.until if a.until is not None else float('inf')
        return child(a)
    import torch
    from dnd_nano.core import default_device
    stages = [s.strip() for s in (a.stages or ','.join(s for s in STAGES if not (a.quick and s == 'fashion'))).split(',')
              if s.strip()]
    bad = [s for s in stages if s not in STAGES]
    if bad or not stages: p.error(f"--stages {a.stages}: choose among {', '.join(STAGES)}")
    budget = a.budget or (3000 if a.quick else 500)
    a.device = str(default_device(a.device))
    cuda = a.device.startswith('cuda')
    work = Path(a.out); (work/'logs').mkdir(parents=True, exist_ok=True)
    for f in [*(work/f'{s}.json' for s in (*STAGES, 'warm')), *(work/f'{s}.error.json' for s in (*STAGES, 'warm')),
              work/'bench.json', work/'warm.json']:
        if f.exists() and not (a.resume and f.name == 'fashion.json'): f.unlink()
    path = work/'gpu_checks.json'
    res = read_json(path, {}) if a.resume else {}
    res.update(device=a.device, device_name=torch.cuda.get_device_name() if cuda else None, torch=torch.__version__,
               quick=a.quick, budget_s=budget, stages=stages, command=' '.join(sys.argv),
               settings={'compare_steps': a.compare_steps, 'jobs': a.jobs, 'fashion_jobs': a.fashion_jobs,
                         'fashion_seeds': a.fashion_seeds})
    res.setdefault('seconds', {}); res.setdefault('started_at', {})
    # deadlines within the budget: the bench keeps its share unless compare or the demo need it (they come first)
    bench_need = sum(BENCH_TRAIN_S.values()) + sum(BENCH_SAMPLE_S.values()) if 'bench' in stages else 0
    fashion_until = budget - bench_need - 15 if not a.quick else budget
    plan = {'compare': (budget - 60, budget - 60), 'demo': (budget - 60, budget - 60),
            'fashion': (fashion_until, budget - 150), 'warm': (budget - 150, budget - 150)}
    failed, running = False, []
    def record(name, st, rc):
        nonlocal failed
        r = finish(st, rc, a)
        res[name] = r; res['seconds'][name] = now() - st.t0; res['started_at'][name] = st.t0
        failed |= 'error' in r
        print(f"== {name}: {'ended' if 'error' not in r else r['error']} after {res['seconds'][name]:.0f} s "
              f"(at {now():.0f} s of {budget:.0f})", flush=True)
        write_json(path, res); export(work, a.export, res)
    for name in [s for s in CONCURRENT if s in stages] + (['warm'] if 'bench' in stages and cuda and not a.quick else []):
        until, kill = plan[name]
        env = {'TORCHINDUCTOR_COMPILE_THREADS': '3'} if name == 'warm' else {'OMP_NUM_THREADS': '1'}
        running.append(Stage(name, a, work, until, kill, env))
    write_json(path, res); export(work, a.export, res)
    while running:
        time.sleep(0.5 if a.quick else 2)
        for st in list(running):
            rc = st.poll()
            if rc is not None:
                running.remove(st)
                if st.name == 'warm': res['bench_compile_warm'] = finish(st, rc, a); write_json(path, res)
                else: record(st.name, st, rc)
    if 'bench' in stages:
        st = Stage('bench', a, work, budget - 8, budget - 4)
        while (rc := st.poll()) is None: time.sleep(0.5 if a.quick else 2)
        record('bench', st, rc)
    res['total_s'] = now()
    write_json(path, res); export(work, a.export, res)
    print(f"wrote {path} ({now():.0f} s)")
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main())

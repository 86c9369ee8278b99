"""Bad input, careless and hostile: every case gets one clear message that names the problem, never a traceback, a hang
or a silent wrong result, and leaves the files and folders that were already there as they were.

The console scripts are called in this process through the same wrapper their entry points use (`core.console`), which
is much faster than a new interpreter per case; `test_entry_points_answer_in_one_line` runs a few of them as real
programs to show that the installed scripts behave the same."""
import contextlib, errno, hashlib, io, json, math, os, subprocess, sys, time, warnings
from pathlib import Path
import pytest
import torch
from dnd_nano import bench, cli, compare
from dnd_nano.core import check_images, image_batch
from dnd_nano.checkpoint import CheckpointError, atomic_write, build_model, load_model, read_checkpoint, save_checkpoint
from dnd_nano.charts import chart_scores, read_chart
from dnd_nano.codes import encode_dataset, load_codes
from dnd_nano.eval import (FeatureNet, FeatureNetConfig, class_accuracy, features, frechet_distance, gaussian_stats,
                           heldout_ce, image_bits, real_reference, sample_scores, sqrtm_psd, stepwise_bits, text_sample_scores,
                           train_classifier, validity_chance, variant_cost)
from dnd_nano.results import format_table, plot_samples_by_run, show_run_samples, summarize, write_figures
from dnd_nano.charts import ChartConfig, ChartImages, chart_summary, chart_text, render_chart
from dnd_nano.checkpoint import fingerprint, set_rng_state
from dnd_nano.datasets import get_data
from dnd_nano.model import DnDConfig, DnDTransformer
from dnd_nano.quantize import ResidualQuantizer
from dnd_nano.sample import generate
from dnd_nano.text import TextConfig, TextImages, read_text
from dnd_nano.tokenizer import RQVAE, RQVAEConfig
from dnd_nano.train import StepSampler, TrainConfig, fit

SCRIPTS = {'dnd_nano_tokenizer': cli.tokenizer, 'dnd_nano_encode': cli.encode, 'dnd_nano_train': cli.train,
           'dnd_nano_sample': cli.sample, 'dnd_nano_demo': cli.demo, 'dnd_nano_bench': bench.main,
           'dnd_nano_compare': compare.main}
ENV = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
TINY_MODEL = ['n_embd=32', 'n_head=2', 'n_layer=2']
TOY = DnDTransformer(DnDConfig.toy())  # grid 3 x 4, D = 3, 32 codes

pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py

def script(name, *args, timeout: float = 120):
    "Run console script `name` in this process: (exit status, stdout + stderr). Fails if it takes over `timeout` s."
    out, t0 = io.StringIO(), time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try: code = SCRIPTS[name]([str(a) for a in args])
        except SystemExit as e: code = e.code  # argparse stops there, as the real script does
    assert time.perf_counter() - t0 < timeout, f"{name} {args} took {time.perf_counter() - t0:.0f} s"
    return code, out.getvalue()

def snapshot(folder) -> dict:
    "Every file below `folder` with a hash of its bytes: what must not change."
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob('*'))
            if p.is_file()} if folder.exists() else {}

def refused(code, output, *phrases, status=2):
    "The run ended with `status`, without a traceback, with a message holding every phrase."
    assert code == status, f"exit status {code}, not {status}:\n{output}"
    assert 'Traceback' not in output, output
    for ph in phrases: assert ph in output, f"{ph!r} not in:\n{output}"

# ---- files the cases need: a tiny tokenizer, its codes, a tiny model trained on them, hostile files ----------------

class Payload:
    "Pickled, it calls Path.touch on a marker file when loaded: the side effect the tests look for."
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (Path.touch, (self.marker,))

@pytest.fixture(scope='module')
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp('files')
    torch.manual_seed(0)
    tok = RQVAE(RQVAEConfig.text(channels=16, latent_dim=8, codebook_size=32, n_depth=2))
    fit(tok, TextImages(64), steps=2, batch_size=16, ckpt_path=d/'tok'/'tokenizer.pt', progress=False, device='cpu')
    codes = encode_dataset(tok, TextImages(128), d/'codes.pt', tokenizer_path=d/'tok'/'tokenizer.pt', progress=False)
    other = RQVAE(tok.config)                                   # same shapes, other weights: another tokenizer
    other_codes = encode_dataset(other, TextImages(128), d/'other_codes.pt', progress=False)
    save_checkpoint(d/'other_tok.pt', other)
    deep = RQVAE(RQVAEConfig.text(channels=16, latent_dim=8, codebook_size=32, n_depth=3))
    deep_codes = encode_dataset(deep, TextImages(128), d/'deep_codes.pt', progress=False)
    code, out = script('dnd_nano_train', '--codes', codes, '--out', d/'run', '--steps', 4, '--ckpt-every', 2,
                       '--batch-size', 16, '--device', 'cpu', '--set', *TINY_MODEL)
    assert code == 0, out
    marker = d/'payload-ran'
    torch.save({'format': 'dnd_nano/2', 'model': Payload(marker)}, d/'evil.pt')
    torch.save({'format': 'dnd_nano-codes/2', 'codes': Payload(marker)}, d/'evil_codes.pt')
    from safetensors.torch import save_file
    save_file({'w': torch.zeros(1)}, str(d/'bare.safetensors'))
    save_file({'w': torch.zeros(1)}, str(d/'abort.safetensors'), metadata={'model_class': 'os.abort', 'config': '{}'})
    (d/'notes.txt').write_text('not a checkpoint')
    (d/'a_file').write_text('x')
    return dict(d=d, tok=d/'tok'/'tokenizer.pt', codes=codes, other_codes=other_codes, other_tok=d/'other_tok.pt',
                deep_codes=deep_codes, run=d/'run', model=d/'run'/'model.pt', marker=marker)

# ---- console scripts: arguments that cannot work, refused before any work ------------------------------------------

ARGUMENT_CASES = [  # (script, arguments, phrases the message must hold)
    ('dnd_nano_train', ['--batch-size', '0'], ['--batch-size', '0 is below the smallest allowed value, 1']),
    ('dnd_nano_train', ['--batch-size', '-1'], ['--batch-size', '-1 is below']),   # this one used to spin forever
    ('dnd_nano_train', ['--ckpt-every', '0'], ['--ckpt-every', '0 is below']),
    ('dnd_nano_train', ['--steps', '2.5'], ['--steps', "'2.5' is not a whole number"]),
    ('dnd_nano_train', ['--lr', 'nan'], ['--lr', 'nan is not a finite number']),
    ('dnd_nano_train', ['--lr', '0'], ['--lr', '0 is not a finite number in (0']),
    ('dnd_nano_train', ['--seed', '-3'], ['--seed', '-3 is below']),
    ('dnd_nano_train', ['--variant', 'diagonal'], ['--variant', "invalid choice: 'diagonal'"]),
    ('dnd_nano_train', ['--preset', 'huge'], ['--preset', "invalid choice: 'huge'"]),
    ('dnd_nano_train', ['--preview-every', '-1'], ['--preview-every', '-1 is below']),
    ('dnd_nano_tokenizer', ['--n-test', '0'], ['--n-test', '0 is below']),
    ('dnd_nano_tokenizer', ['--ablation', '1,0'], ['--ablation', '0 is below']),
    ('dnd_nano_tokenizer', ['--ablation', 'one,two'], ['--ablation', "'one' is not a whole number"]),
    ('dnd_nano_tokenizer', ['--data', 'imagenet'], ['--data', "invalid choice: 'imagenet'"]),
    ('dnd_nano_encode', ['--tokenizer', 't.pt', '--n', '0'], ['--n', '0 is below']),
    ('dnd_nano_sample', ['--model', 'm.pt', '--temperature', 'nan'], ['--temperature', "nan is not a finite number"]),
    ('dnd_nano_sample', ['--model', 'm.pt', '--temperature', '-1'], ['--temperature', '-1 is not a finite number in [0']),
    ('dnd_nano_sample', ['--model', 'm.pt', '--top-p', '0'], ['--top-p', '0 is not a finite number in (0']),
    ('dnd_nano_sample', ['--model', 'm.pt', '--top-k', '-1'], ['--top-k', '-1 is below']),
    ('dnd_nano_sample', ['--model', 'm.pt', '--n', '0'], ['--n', '0 is below']),
    ('dnd_nano_sample', ['--model', 'm.pt', '--cfg-scale', 'inf'], ['--cfg-scale', 'inf is not a finite number']),
    ('dnd_nano_demo', ['--temperature', '-1'], ['--temperature', '-1 is not a finite number']),
    ('dnd_nano_demo', ['--n', '0'], ['--n', '0 is below']),
    ('dnd_nano_demo', ['--preset', 'huge'], ['--preset', "invalid choice: 'huge'"]),
    ('dnd_nano_bench', ['--batch', '0'], ['--batch', '0 is below']),
    ('dnd_nano_bench', ['--threads', '0'], ['--threads', '0 is below']),
    ('dnd_nano_bench', ['--steps', 'many'], ['--steps', "'many' is not a whole number"]),
    ('dnd_nano_bench', ['--preset', 'huge'], ['--preset', "invalid choice: 'huge'"]),
]

@pytest.mark.parametrize('name,args,phrases', ARGUMENT_CASES, ids=[f'{n}{" ".join(a)}' for n, a, _ in ARGUMENT_CASES])
def test_bad_arguments_are_refused_while_read(name, args, phrases, tmp_path):
    code, out = script(name, *args, timeout=30)
    refused(code, out, 'error: argument', *phrases)
    assert out.strip().splitlines()[-1].startswith(f'{name}: error: argument'), out  # the usage, then one line

def test_a_second_signal_stops_at_once():
    "The stop handler raises at once when asked twice, instead of waiting for a step that may never end."
    from dnd_nano.train import _StopRequest  # (a private name, tested here, in the module's own tests)
    import signal
    s = _StopRequest().start()
    try:
        s._ask(signal.SIGTERM, None)
        with pytest.raises(KeyboardInterrupt): s._ask(signal.SIGTERM, None)
    finally: s.end()

# ---- console scripts: values that only the files or the config can refuse -----------------------------------------

def test_train_config_fields(files, tmp_path):
    base = ['--codes', files['codes'], '--out', tmp_path/'r', '--device', 'cpu', '--set', *TINY_MODEL]
    for extra, phrase in [(['--train', 'log_every=0'], '--train: TrainConfig: log_every=0 must be a whole number'),
                          (['--train', 'accum=0'], '--train: TrainConfig: accum=0 must be a whole number'),
                          (['--train', 'ema=1.5'], "--train: TrainConfig: ema=1.5 must be None or a decay"),
                          (['--train', 'betas=0.9'], '--train: TrainConfig: betas=(0.9,) must be two numbers'),
                          (['--train', 'warmup=x'], "--train: TrainConfig: warmup='x' must be None or a whole number"),
                          (['--set', 'n_layer=0'], '--set: n_layer=0 must be a whole number, at least 1'),
                          (['--set', 'n_head=3'], 'n_embd=32 / n_head=3 must give a head size divisible by 4'),  # --set adds to --set
                          (['--set', 'nosuch=1'], "DnDConfig has no field 'nosuch'"),
                          (['--set', 'head_layers=2,1'], 'head_layers=(2, 1) must be strictly increasing'),
                          (['--set', 'dropout=1'], 'dropout=1.0 must be a number in [0, 1)'),
                          (['--batch-size', '1000'], 'has 128 images, fewer than one batch of 1000'),
                          (['--device', 'gpu'], "device='gpu' is not a device torch knows"),
                          (['--resume', '--overwrite'], '--resume and --overwrite contradict each other')]:
        code, out = script('dnd_nano_train', *base, *extra)
        refused(code, out, phrase)
    if not torch.cuda.is_available():
        refused(*script('dnd_nano_train', *base, '--device', 'cuda'), 'torch sees no CUDA GPU')
    assert not (tmp_path/'r').exists()  # refused before anything was written

@pytest.mark.parametrize('kind', ['missing', 'checkpoint', 'text', 'folder', 'malicious', 'damaged'])
def test_train_refuses_a_bad_codes_file(files, tmp_path, kind):
    d = files['d']
    if kind == 'damaged':
        state = torch.load(files['codes']); state['codes'] = state['codes'] + 40; torch.save(state, tmp_path/'bad.pt')
    path, phrase = {'missing': (d/'nope.pt', 'No codes file at'), 'checkpoint': (files['model'], 'it is a model checkpoint'),
                    'text': (d/'notes.txt', 'is not a readable codes file'), 'folder': (d, 'it is a folder'),
                    'malicious': (d/'evil_codes.pt', 'it is not loaded (loading it could run code)'),
                    'damaged': (tmp_path/'bad.pt', 'do not fit its own tokenizer config')}[kind]
    before = snapshot(d)
    refused(*script('dnd_nano_train', '--codes', path, '--out', tmp_path/'r', '--device', 'cpu'), phrase)
    assert not files['marker'].exists() and snapshot(d) == before and not (tmp_path/'r').exists()

def test_out_folders_that_cannot_be_used(files, tmp_path):
    refused(*script('dnd_nano_train', '--codes', files['codes'], '--out', files['d']/'a_file'), 'is a file: give a folder')
    refused(*script('dnd_nano_train', '--codes', files['codes'], '--out', '/proc/dnd_nano_no_such_folder', '--device',
                    'cpu', '--set', *TINY_MODEL), 'Cannot write to the folder /proc/dnd_nano_no_such_folder')
    refused(*script('dnd_nano_tokenizer', '--out', files['d']/'a_file'), 'is a file: give a folder')
    refused(*script('dnd_nano_demo', '--out', files['d']/'a_file'), 'is a file: give a folder')

def test_a_finished_run_is_not_overwritten_by_accident(files):
    before = snapshot(files['run'])
    refused(*script('dnd_nano_train', '--codes', files['codes'], '--out', files['run'], '--device', 'cpu',
                    '--set', *TINY_MODEL), 'already holds a checkpoint: pass --resume to continue it, --overwrite')
    assert snapshot(files['run']) == before

def test_refused_resumes_leave_the_run_as_it_was(files):
    "Codes of another depth, codes of another tokenizer of the same shape, another config: refused, run.json identical."
    run, before = files['run'], snapshot(files['run'])
    base = ['--out', run, '--resume', '--device', 'cpu', '--steps', 8, '--batch-size', 16]
    refused(*script('dnd_nano_train', '--codes', files['deep_codes'], *base, '--set', 'n_embd=32', 'n_head=2', 'n_layer=3'),
            'was saved from a model with another config', 'n_depth: checkpoint 2 vs model 3')
    refused(*script('dnd_nano_train', '--codes', files['other_codes'], *base, '--set', *TINY_MODEL),
            'was trained on codes made by tokenizer', 'its codes mean other images')
    refused(*script('dnd_nano_train', '--codes', files['codes'], *base, '--set', 'n_embd=64', 'n_head=2', 'n_layer=2'),
            'n_embd: checkpoint 32 vs model 64')
    assert snapshot(run) == before

def test_tokenizer_script_refusals(files, tmp_path):
    for args, phrase in [(['--data', 'text', '--n-train', '10', '--batch-size', '64'], 'has 10 images, fewer than one batch of 64'),
                         (['--preset', 'mnist'], 'has images of shape (1, 32, 32), but the tokenizer takes (1, 28, 28)'),
                         (['--set', 'f=6'], 'f=6 must be patch=4 times a power of two'),
                         (['--set', 'channels=10'], 'channels=10 must be a multiple of 4'),
                         (['--set', 'loss=l1'], "loss='l1': use 'bce' or 'mse'"),
                         (['--data', 'cifar10', '--root', tmp_path/'none'], 'CIFAR-10 not found under')]:
        refused(*script('dnd_nano_tokenizer', '--out', tmp_path/'t', '--steps', 2, *args), phrase)
    assert not (tmp_path/'t').exists()

def test_encode_refusals(files, tmp_path):
    for args, phrase in [(['--tokenizer', files['model']], 'holds a dnd_nano.model.DnDTransformer, but a RQVAE is expected here'),
                         (['--tokenizer', files['d']/'nope.pt'], 'No checkpoint at'),
                         (['--tokenizer', files['d']/'evil.pt'], 'it is not loaded (loading it could run code)'),
                         (['--tokenizer', files['tok'], '--data', 'mnist_text', '--n', 4], 'has images of shape (1, 32, 64)'),
                         (['--tokenizer', files['tok'], '--out', tmp_path], 'is a folder: give a file name')]:
        refused(*script('dnd_nano_encode', *args, '--device', 'cpu'), phrase)
    assert not files['marker'].exists()

def test_sample_refusals(files, tmp_path):
    d, before = files['d'], snapshot(files['d'])
    run_json = json.loads((files['run']/'run.json').read_text())
    (tmp_path/'lone').mkdir(); (tmp_path/'lone'/'model.pt').write_bytes(files['model'].read_bytes())
    (tmp_path/'bad').mkdir(); (tmp_path/'bad'/'model.pt').write_bytes(files['model'].read_bytes())
    (tmp_path/'bad'/'run.json').write_text('{not json')
    out = ['--out', tmp_path/'s.png', '--device', 'cpu', '--n', 2]
    m = ['--model', files['model']]
    for args, phrase in [(['--model', files['tok'], *out], 'holds a dnd_nano.tokenizer.RQVAE, but a DnDTransformer is expected'),
                         (['--model', d/'evil.pt', *out], 'it is not loaded (loading it could run code)'),
                         (['--model', d/'bare.safetensors', *out], 'has no dnd_nano metadata'),
                         (['--model', d/'abort.safetensors', *out], 'holds a os.abort, but a DnDTransformer is expected'),
                         (['--model', tmp_path/'lone'/'model.pt', *out], 'No tokenizer: pass --tokenizer PATH'),
                         (['--model', tmp_path/'bad'/'model.pt', *out], 'is not readable JSON: pass --tokenizer'),
                         ([*m, *out, '--tokenizer', files['other_tok']], 'is not the one whose codes'),
                         ([*m, *out, '--tokenizer', files['model']], 'but a RQVAE is expected here'),
                         ([*m, *out, '--temperature', '1,1,1'], 'temperature=[1.0, 1.0, 1.0] has 3 values but the model has n_depth=2'),
                         ([*m, *out, '--cfg-scale', '2'], 'needs a class-conditional model'),
                         ([*m, '--out', tmp_path/'s.xyz'], "the file type '.xyz' cannot be written"),
                         ([*m, '--out', tmp_path], 'is a folder: give a file name')]:
        refused(*script('dnd_nano_sample', *args), phrase)
    assert not files['marker'].exists() and snapshot(d) == before and not (tmp_path/'s.png').exists()
    assert run_json['tokenizer_fingerprint']  # the fingerprint the mismatch above was measured against

def test_demo_refuses_before_any_training(tmp_path):
    t0 = time.perf_counter()
    for args, phrase in [(['--temperature', '1,1'], '--temperature: give one value or 4'),
                         (['--samples', tmp_path/'s.txt'], "the file type '.txt' cannot be written"),
                         (['--device', 'gpu'], "device='gpu' is not a device torch knows"),
                         (['--resume', '--overwrite'], 'contradict each other')]:
        refused(*script('dnd_nano_demo', '--preset', 'test', '--out', tmp_path/'demo', *args), phrase)
    assert time.perf_counter() - t0 < 20 and not (tmp_path/'demo').exists()

def test_bench_refusals(tmp_path):
    for args, phrase in [(['--variants', 'diagonal'], "Unknown variants ['diagonal']"),
                         (['--variants', ','], '--variants is empty'),
                         (['--json', tmp_path/'no'/'such'/'b.json'], 'cannot write a file there')]:
        refused(*script('dnd_nano_bench', '--preset', 'tiny', *args, timeout=30), phrase)

# ---- hostile files through the Python API ------------------------------------------------------------------------

def test_malicious_files_do_not_run_their_payload(files):
    for load in (lambda: read_checkpoint(files['d']/'evil.pt'), lambda: load_codes(files['d']/'evil_codes.pt'),
                 lambda: load_model(files['d']/'evil.pt', DnDTransformer),
                 lambda: load_model(files['d']/'abort.safetensors', [DnDTransformer, RQVAE])):
        with pytest.raises(CheckpointError): load()
    assert not files['marker'].exists()
    torch.load(files['d']/'evil.pt', weights_only=False)  # the payload is real: loaded unsafely, it runs
    assert files['marker'].exists()
    files['marker'].unlink()

# ---- runs that must not lose data ----------------------------------------------------------------------------------

def test_two_runs_into_one_folder(files, tmp_path):
    "The second run is refused while the first holds the folder; the first finishes, and its checkpoint is whole."
    args = ['dnd_nano_train', '--codes', str(files['codes']), '--out', str(tmp_path/'r'), '--steps', '400',
            '--ckpt-every', '5', '--batch-size', '16', '--device', 'cpu', '--set', *TINY_MODEL, '--train', 'log_every=1']
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        deadline = time.time() + 120
        while not (tmp_path/'r'/'model.pt').exists():
            assert first.poll() is None and time.time() < deadline, first.stdout.read()
            time.sleep(0.05)
        second = subprocess.run(args + ['--resume'], capture_output=True, text=True, env=ENV, timeout=120)
        refused(second.returncode, second.stdout + second.stderr, 'Another run is writing to')
        assert first.poll() is None  # the first run was not disturbed
        out, _ = first.communicate(timeout=300)
    finally:
        if first.poll() is None: first.kill()
    assert first.returncode == 0, out[-2000:]
    assert read_checkpoint(tmp_path/'r'/'model.pt')['step'] == 400

def test_divergence_keeps_the_last_good_checkpoint(files, tmp_path):
    "A learning rate of 1e30 on a resumed run: the run stops with the step, the checkpoint before it stays whole."
    run = tmp_path/'run'
    code, out = script('dnd_nano_train', '--codes', files['codes'], '--out', run, '--steps', 6, '--ckpt-every', 3,
                       '--batch-size', 16, '--device', 'cpu', '--set', *TINY_MODEL)
    assert code == 0, out
    good = read_checkpoint(run/'model.pt')
    code, out = script('dnd_nano_train', '--codes', files['codes'], '--out', run, '--steps', 40, '--ckpt-every', 1,
                       '--batch-size', 16, '--device', 'cpu', '--set', *TINY_MODEL, '--lr', '1e30', '--resume',
                       '--train', 'clip=none')
    refused(code, out, 'stopped. The last good checkpoint is kept at', 'Lower the learning rate', status=1)
    state = read_checkpoint(run/'model.pt')
    assert state['step'] >= good['step'] and all(t.isfinite().all() for t in state['model'].values())
    assert all(t.isfinite().all() for t in load_model(run/'model.pt', DnDTransformer).state_dict().values())
    assert not [p for p in run.iterdir() if p.suffix == '.tmp']

def run_on_a_full_disk(files, out):
    "Train into `out`, whose disk holds one checkpoint and a half: the second checkpoint cannot be written."
    return script('dnd_nano_train', '--codes', files['codes'], '--out', out, '--steps', 6, '--ckpt-every', 1,
                  '--batch-size', 16, '--device', 'cpu', '--set', *TINY_MODEL)

def test_a_full_disk(files, tmp_path):
    """A real full disk (a tiny tmpfs) where the machine allows mounting one; otherwise a write that fails with ENOSPC
    on purpose. Either way: a clear message, the first checkpoint intact, no temporary file left behind."""
    code, out = script('dnd_nano_train', '--codes', files['codes'], '--out', tmp_path/'size', '--steps', 1,
                       '--batch-size', 16, '--device', 'cpu', '--set', *TINY_MODEL)
    assert code == 0, out
    size = (tmp_path/'size'/'model.pt').stat().st_size
    disk = tmp_path/'disk'; disk.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={int(size * 1.5) // 4096 * 4096 + 8192}', 'tmpfs',
                              str(disk)], capture_output=True).returncode == 0
    try:
        if mounted: code, out = run_on_a_full_disk(files, disk/'run')
        else:
            real, calls = os.fsync, []
            def fsync(fd):  # the second checkpoint's write fails as on a full disk
                calls.append(fd)
                if len(calls) == 2: raise OSError(errno.ENOSPC, 'No space left on device')
                return real(fd)
            os.fsync = fsync
            try: code, out = run_on_a_full_disk(files, disk/'run')
            finally: os.fsync = real
        refused(code, out, 'the disk is full', 'is unchanged and no partial file was left')
        assert read_checkpoint(disk/'run'/'model.pt')['step'] == 1
        assert sorted(p.name for p in (disk/'run').iterdir()) == ['model.pt', 'run.json']
    finally:
        if mounted: subprocess.run(['umount', str(disk)])

# ---- the Python API: bad input gets a clear error, or it is made right ---------------------------------------------

API_CASES = [  # (what, call, exception, phrase)
    ('unreadable thickness', lambda: TextImages(4, thickness=2), ValueError, "'0' and '8' differ in fewer than 2 pixels"),
    ('jitter of half a cell', lambda: TextConfig.small(jitter=2), ValueError, 'jitter=2 cannot be read back'),
    ('NaN noise', lambda: TextImages(4, noise=float('nan')), ValueError, 'noise=nan must be a finite number'),
    ('fractional count', lambda: TextImages(2.7), ValueError, 'n=2.7 must be a whole number'),
    ('8-bit images to the OCR', lambda: read_text(torch.full((1, 1, 32, 32), 255, dtype=torch.uint8)), ValueError, 'divide by 255'),
    ('a file name as images', lambda: check_images('image.png'), TypeError, 'must be a tensor'),
    ('no images at all', lambda: image_batch(torch.zeros(0, 1, 32, 32)), ValueError, 'are empty'),
    ('uint8 images to encode', lambda: RQVAE(RQVAEConfig.text(channels=16)).encode(torch.zeros(1, 1, 32, 32, dtype=torch.uint8)),
     TypeError, 'x.float() / 255'),
    ('images in 0..255 to encode', lambda: RQVAE(RQVAEConfig.text(channels=16)).encode(torch.rand(1, 1, 32, 32) * 255),
     ValueError, 'divide by 255'),
    ('NaN images to encode', lambda: RQVAE(RQVAEConfig.text(channels=16)).encode(torch.full((1, 1, 32, 32), float('nan'))),
     ValueError, 'NaN or infinite'),
    ('codes outside the codebook', lambda: RQVAE(RQVAEConfig.text(channels=16)).decode(torch.full((1, 4, 4, 4), 512)),
     ValueError, '[0, 512)'),
    ('an empty vocabulary', lambda: DnDConfig(vocab_size=0), ValueError, 'vocab_size=0 must be a whole number, at least 1'),
    ('a fractional class label', lambda: DnDTransformer(DnDConfig.toy())(torch.zeros(1, 3, 4, 3, dtype=torch.long), 1.7),
     ValueError, 'whole class labels'),
    ('float codes', lambda: DnDTransformer(DnDConfig.toy())(torch.zeros(1, 3, 4, 3)), TypeError, 'codes must be integers'),
    ('zero images', lambda: generate(DnDTransformer(DnDConfig.toy()), n=0), ValueError, 'n=0 must be a whole number'),
    ('a NaN temperature', lambda: generate(DnDTransformer(DnDConfig.toy()), [1], temperature=float('nan')), ValueError,
     'use finite values >= 0'),
    ('a fractional label to generate', lambda: generate(DnDTransformer(DnDConfig.toy()), [1.7]), ValueError, 'whole class labels'),
    ('top_p of 0', lambda: generate(DnDTransformer(DnDConfig.toy()), [1], top_p=0), ValueError, 'top_p=0'),
    ('log_every of 0', lambda: TrainConfig(log_every=0), ValueError, 'log_every=0 must be a whole number'),
    ('accum of 0', lambda: TrainConfig(accum=0), ValueError, 'accum=0 must be a whole number'),
    ('a negative batch', lambda: StepSampler(100, -1), ValueError, 'batch_size=-1'),
    ('a misspelt setting', lambda: fit(DnDTransformer(DnDConfig.toy()), [], stepz=3), TypeError, "unknown settings ['stepz']"),
    ('too little data', lambda: fit(DnDTransformer(DnDConfig.toy()), torch.utils.data.TensorDataset(torch.zeros(3, 3, 4, 3, dtype=torch.long)),
                                    batch_size=8, progress=False), ValueError, 'fewer than one batch of 8'),
    ('an unknown data set', lambda: get_data('imagenet'), ValueError, 'choose one of'),
    ('no images wanted', lambda: get_data('text', n=0), ValueError, 'n=0'),
    ('an unknown model preset', lambda: DnDConfig.preset('huge'), ValueError, "No model preset 'huge'"),
]

@pytest.mark.parametrize('what,call,exc,phrase', API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(what, call, exc, phrase):
    with pytest.raises(exc) as e: call()
    assert phrase in str(e.value), str(e.value)

def test_a_nan_latent_does_not_poison_the_codebook():
    rq = ResidualQuantizer(4, 16, 2, kmeans_init=True).train()
    rq(torch.randn(64, 4))
    before = {k: v.clone() for k, v in rq.state_dict().items()}
    z = torch.randn(64, 4); z[3, 1] = float('nan')
    with pytest.warns(UserWarning, match='the codebook was not updated'): rq(z)
    assert all(torch.equal(v, before[k]) for k, v in rq.state_dict().items())
    with pytest.raises(ValueError, match='NaN or infinite'): rq.eval()(z)

def test_a_save_of_nan_weights_is_refused(tmp_path):
    m = DnDTransformer(DnDConfig.toy())
    save_checkpoint(tmp_path/'m.pt', m, step=1)
    before = (tmp_path/'m.pt').read_bytes()
    with torch.no_grad(): m.tok_emb.weight[0, 0] = float('inf')
    with pytest.raises(CheckpointError, match='not finite'): save_checkpoint(tmp_path/'m.pt', m, step=2)
    assert (tmp_path/'m.pt').read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ['m.pt']

def test_a_failed_write_leaves_nothing_behind(tmp_path):
    atomic_write(tmp_path/'f', lambda f: f.write(b'old'))
    def fail(f): f.write(b'partial'); raise OSError(errno.EIO, 'Input/output error')
    with pytest.raises(CheckpointError, match='Input/output error'): atomic_write(tmp_path/'f', fail)
    assert (tmp_path/'f').read_bytes() == b'old' and [p.name for p in tmp_path.iterdir()] == ['f']

# ---- the installed scripts behave the same as the functions above ------------------------------------------------

@pytest.mark.parametrize('name,args,phrase', [
    ('dnd_nano_train', ['--batch-size', '0', '--codes', 'c.pt'], '0 is below the smallest allowed value'),
    ('dnd_nano_sample', ['--model', '/nonexistent/model.pt'], 'No checkpoint at /nonexistent/model.pt'),
    ('dnd_nano_encode', ['--tokenizer', '/nonexistent/t.pt'], 'No checkpoint at /nonexistent/t.pt'),
    ('dnd_nano_tokenizer', ['--set', 'f=6', '--out', '/tmp/dnd_nano_never'], 'f=6 must be patch=4 times a power of two'),
    ('dnd_nano_demo', ['--temperature', '-1'], '-1 is not a finite number'),
    ('dnd_nano_bench', ['--variants', 'diagonal'], "Unknown variants ['diagonal']"),
])
def test_entry_points_answer_in_one_line(name, args, phrase):
    res = subprocess.run([name, *args], capture_output=True, text=True, env=ENV, timeout=120)
    refused(res.returncode, res.stdout + res.stderr, phrase)
    debug = subprocess.run([name, *args, '--debug'], capture_output=True, text=True, env=ENV, timeout=120)
    assert debug.returncode == res.returncode
    if 'error: argument' not in res.stderr: assert 'Traceback' in debug.stderr  # asked for, the traceback is there

# ---- second round: a file is never written over the file it is made from --------------------------------------------

def test_an_export_never_replaces_its_checkpoint(files, tmp_path):
    "`export_safetensors(ckpt, ckpt)` used to overwrite the training checkpoint with safetensors bytes."
    from dnd_nano.checkpoint import export_safetensors
    ckpt = tmp_path/'model.pt'; ckpt.write_bytes(files['model'].read_bytes())
    (tmp_path/'sub').mkdir(); os.link(ckpt, tmp_path/'hard.pt')
    before = snapshot(tmp_path)
    for out in (ckpt, str(ckpt), tmp_path/'sub'/'..'/'model.pt', tmp_path/'hard.pt'):
        with pytest.raises(CheckpointError, match='is the file it is made from'): export_safetensors(ckpt, out)
    assert snapshot(tmp_path) == before
    assert read_checkpoint(ckpt)['step'] == 4  # still a checkpoint that --resume can read
    assert export_safetensors(ckpt).suffix == '.safetensors'  # another path is written as before

def test_encoding_never_replaces_its_tokenizer(files, tmp_path):
    tok = tmp_path/'tokenizer.pt'; tok.write_bytes(files['tok'].read_bytes())
    before = snapshot(tmp_path)
    refused(*script('dnd_nano_encode', '--tokenizer', tok, '--out', tok, '--data', 'text', '--n', 8,
                    '--device', 'cpu'), 'is the file it is made from', str(tok))
    with pytest.raises(CheckpointError, match='is the file it is made from'):
        encode_dataset(load_model(tok, RQVAE), TextImages(8), tok, tokenizer_path=tok, progress=False)
    assert snapshot(tmp_path) == before

# ---- second round: the comparison's cache is keyed by everything that made a result ----------------------------------

@pytest.fixture(scope='module')
def comparison(tmp_path_factory):
    "A finished comparison of one run (the `test` preset, one seed), and its settings."
    from dnd_nano.compare import compare, compare_config
    d = tmp_path_factory.mktemp('compare')
    cc = compare_config('test', variants=('dnd',), placements=(), seeds=1)
    compare(cc, d, device='cpu', say=lambda *a: None)
    return d, cc

def compare_again(folder, *sets):
    return script('dnd_nano_compare', '--preset', 'test', '--variants', 'dnd', '--resume', '--out', folder,
                  '--device', 'cpu', '--set', 'placements=', 'seeds=1', *sets)

@pytest.mark.parametrize('change, phrase', [('tok_steps=6', 'steps 4 there, 6 now'),
                                            ('tok_set=channels=16,latent_dim=8,codebook_size=64,n_depth=2',
                                             'codebook_size 32 there, 64 now')])
def test_a_resumed_comparison_never_changes_its_finished_tokenizer(comparison, tmp_path, change, phrase):
    "Resuming after a change of the tokenizer's settings used to train it on and rewrite its codes."
    import shutil
    d = tmp_path/'c'; shutil.copytree(comparison[0], d)
    before = snapshot(d)
    refused(*compare_again(d, change), 'The tokenizer in', phrase, '--overwrite')
    assert snapshot(d) == before
    code, out = compare_again(d)  # its own settings: taken from the cache as it is
    assert code == 0, out
    assert {k: v for k, v in snapshot(d).items() if 'tokenizer' in k} == \
        {k: v for k, v in before.items() if 'tokenizer' in k}

def test_a_resumed_comparison_refuses_runs_trained_otherwise(comparison, tmp_path):
    import shutil
    d = tmp_path/'c'; shutil.copytree(comparison[0], d)
    before = snapshot(d)
    refused(*compare_again(d, 'lr=0.001'), 'was trained with other settings', 'lr 0.002 then, 0.001 now')
    assert snapshot(d) == before

def test_a_cached_run_is_sampled_again_with_new_sampling_settings(comparison, tmp_path):
    "Samples drawn at another temperature used to be reported under the new one."
    import shutil
    d = tmp_path/'c'; shutil.copytree(comparison[0], d)
    model = (d/'runs'/'dnd_seed0'/'model.pt').read_bytes()
    code, out = compare_again(d, 'temperature=0.5')
    assert code == 0 and 'sampled again (temperature 1.0 then, 0.5 now)' in out, out
    res = json.loads((d/'results.json').read_text())
    assert res['config']['temperature'] == res['runs']['dnd'][0]['settings']['sampling']['temperature'] == 0.5
    assert (d/'runs'/'dnd_seed0'/'model.pt').read_bytes() == model  # not trained again

# ---- second round: errors name the real cause, and every setting is checked before any work ------------------------

def test_too_few_layers_for_the_depths_is_named(files, tmp_path):
    "Three depths on two layers used to be blamed on head_layers=(1, 1, 2), which the user never gave."
    refused(*script('dnd_nano_train', '--codes', files['deep_codes'], '--out', tmp_path/'r', '--steps', 1,
                    '--device', 'cpu', '--set', 'n_layer=2', 'n_embd=32', 'n_head=2'),
            'n_layer=2 is fewer than n_depth=3', 'use n_layer >= 3')
    assert 'run.json' not in snapshot(tmp_path/'r')  # refused before the run was set up

@pytest.mark.parametrize('setting, phrase', [
    ('curve_samples=-1', 'curve_samples=-1 must be a whole number, at least 0'),
    ('text_layout=block_hw', "text_layout='block_hw': choose one of dense"),
    ('text_layout=check_layout', "text_layout='check_layout': choose one of dense"),
    ('warmup=-2', 'warmup=-2 must be None or a whole number')])
def test_every_comparison_setting_is_checked_before_any_training(tmp_path, setting, phrase):
    "These were checked only after the tokenizer had trained, one with Python's own words."
    refused(*script('dnd_nano_compare', '--preset', 'test', '--out', tmp_path/'c', '--device', 'cpu',
                    '--set', setting), phrase)
    assert snapshot(tmp_path) == {}

# ---- second round: a refused file is refused for what it is ------------------------------------------------------------

def test_a_safetensors_file_named_pt_is_said_to_be_one(tmp_path):
    "It used to be called truncated or corrupt."
    from safetensors.torch import save_file
    save_file({'w': torch.zeros(3)}, str(tmp_path/'weights.pt'))
    with pytest.raises(CheckpointError, match=r'is a safetensors file.*name it weights\.safetensors'):
        read_checkpoint(tmp_path/'weights.pt')

@pytest.mark.parametrize('wording', ['Unsupported global: GLOBAL os.system was not an allowed global',
                                     'Weights only load failed. unsupported GLOBAL os.system'])
def test_a_refused_payload_is_said_to_need_code_whatever_torchs_wording(files, monkeypatch, wording):
    "torch words its refusal differently between versions; the payload is said to ask for code in each."
    import pickle
    def refuse(*a, **kw): raise pickle.UnpicklingError(wording)
    monkeypatch.setattr(torch, 'load', refuse)
    with pytest.raises(CheckpointError, match=r'asks to call or build os\.system.*could run code'):
        read_checkpoint(files['model'])

@pytest.mark.parametrize('n', [10**9, 10**22, 4097])
def test_a_huge_sample_request_is_refused_at_once(files, tmp_path, n):
    "`--n 1000000000` used to be accepted and to run for as long as it was let."
    t0 = time.perf_counter()
    refused(*script('dnd_nano_sample', '--model', files['model'], '--tokenizer', files['tok'], '--n', n,
                    '--out', tmp_path/'s.png', '--device', 'cpu'), f'--n {n:,}', 'at most 4,096', '--seed')
    assert time.perf_counter() - t0 < 5 and snapshot(tmp_path) == {}

def test_a_hand_edited_result_is_measured_again(comparison, tmp_path):
    "A result.json with its bits set by hand used to be summarised as if measured."
    import shutil
    d = tmp_path/'c'; shutil.copytree(comparison[0], d)
    f = d/'runs'/'dnd_seed0'/'result.json'
    res = json.loads(f.read_text()); measured = res['heldout']['bits_per_image']
    res['heldout']['bits_per_image'] = 1.0; f.write_text(json.dumps(res))
    code, out = compare_again(d)
    assert code == 0 and 'does not match its model.pt' in out, out
    summary = json.loads((d/'results.json').read_text())['summary']['dnd']['bits_per_image']
    assert summary['values'] == [pytest.approx(measured, rel=1e-4)]

@pytest.mark.parametrize('name, content, phrase', [('curve.json', '{garbage', 'does not parse'),
                                                   ('curve.json', '{}', 'holds a dict'),
                                                   ('result.json', '[1]', 'holds a list')])
def test_a_results_file_of_another_form_is_named_and_set_aside(comparison, tmp_path, name, content, phrase):
    "A garbage curve.json used to be an empty curve, and a result.json holding [1] an error naming no file."
    import shutil
    d = tmp_path/'c'; shutil.copytree(comparison[0], d)
    f = d/'runs'/'dnd_seed0'/name; f.write_text(content)
    code, out = compare_again(d)
    assert code == 0 and f'{f} {phrase}' in out and f'set aside as {name}.bad' in out, out
    assert (f.parent/f'{name}.bad').read_text() == content

# ---- second round: the newer APIs refuse what the older ones refuse ------------------------------------------------

@pytest.mark.parametrize('what, call, exc, phrase', [
    ('read_chart with a text config', lambda: read_chart(torch.zeros(2, 1, 32, 32), TextConfig()), TypeError,
     'config is a TextConfig'),
    ('chart_scores of no reads', lambda: chart_scores([]), ValueError, 'ChartReads of one or more images'),
    ('validity_chance of one string', lambda: validity_chance('1+1=2\n2+2=4'), TypeError, 'not a string'),
    ('sample_scores without a reference', lambda: sample_scores(torch.zeros(2, 1, 32, 32), {}), ValueError,
     'what real_reference returns'),
    # third round: each public function of charts, eval, checkpoint and compare, by kind of bad input
    ('stepwise_bits, codes of a transposed grid', lambda: stepwise_bits(TOY, torch.zeros(2, 4, 3, 3, dtype=torch.long)),
     ValueError, r"codes have a \(4, 3\) grid but the model's config has grid=\(3, 4\)"),
    ('stepwise_bits, negative codes', lambda: stepwise_bits(TOY, torch.full((1, 3, 4, 3), -1)), ValueError,
     'codes range over -1..-1, outside the vocabulary'),
    ('stepwise_bits, float codes', lambda: stepwise_bits(TOY, torch.zeros(1, 3, 4, 3)), TypeError, 'must be integers'),
    ('stepwise_bits, no images', lambda: stepwise_bits(TOY, torch.zeros(0, 3, 4, 3, dtype=torch.long)), ValueError,
     'a batch of 0'),
    ('image_bits of a classifier', lambda: image_bits(FeatureNet(), torch.zeros(1, 3, 4, 3, dtype=torch.long)),
     TypeError, 'model must be of type DnDTransformer; got FeatureNet'),
    ('heldout_ce of images', lambda: heldout_ce(TOY, TextImages(4)), TypeError, r'data must hold \(codes, label\)'),
    ('validity_chance of no reads', lambda: validity_chance([]), TypeError, 'at least one'),
    ('frechet_distance of other sizes', lambda: frechet_distance(torch.zeros(3), torch.eye(4), torch.zeros(3),
                                                                  torch.eye(4)), ValueError, r'shaped \(d,\), \(d, d\)'),
    ('a FeatureNet of no channels', lambda: FeatureNetConfig(in_channels=0), ValueError, 'in_channels=0 must be'),
    ('a FeatureNet of a model config', lambda: FeatureNet(DnDConfig.toy()), TypeError,
     'config must be of type FeatureNetConfig; got DnDConfig'),
    ('features of colour images, grey net', lambda: features(FeatureNet(), torch.zeros(2, 3, 32, 32)), ValueError,
     r'C the channels the net takes \(1\); got \(2, 3, 32, 32\)'),
    ('class_accuracy of labels past the classes', lambda: class_accuracy(FeatureNet(), torch.zeros(2, 1, 28, 28), [9, 10]),
     ValueError, r'labels must be whole numbers in 0\.\.9'),
    ('class_accuracy of fractional labels', lambda: class_accuracy(FeatureNet(), torch.zeros(2, 1, 28, 28), [0.5, 1]),
     ValueError, 'labels must be whole numbers'),
    ('train_classifier of nothing', lambda: train_classifier([]), ValueError, 'train is empty'),
    ('build_model with no classes', lambda: build_model('dnd_nano.model.DnDTransformer', {}, []), TypeError,
     'classes must be a model class'),
    ('build_model with a class name', lambda: build_model('dnd_nano.model.DnDTransformer', {}, 'DnDTransformer'), TypeError,
     'classes must be a model class'),
    ('save_checkpoint at step -5', lambda: save_checkpoint('never.pt', TOY, step=-5), ValueError,
     'step=-5 must be a whole number'),
    ('compare of another config', lambda: compare.compare(TextConfig(), 'never'), TypeError,
     'cc must be of type CompareConfig; got TextConfig'),
    ('compare in no processes', lambda: compare.compare(compare.compare_config('test'), 'never', jobs=0), ValueError,
     'jobs=0 must be a whole number, at least 1'),
    ('images_of a split that is not one', lambda: compare.images_of(compare.compare_config('test'), 'validation'),
     ValueError, "split='validation': choose one of train, test"),
    ('summarize no runs', lambda: summarize({'dnd': []}), ValueError, "a list of its seeds' results, at least one"),
    ('ChartImages of a text layout', lambda: ChartImages(8, TextConfig()), TypeError,
     'config must be of type ChartConfig; got TextConfig'),
    ('a chart config of fractional values', lambda: ChartConfig(values=(1.5, 9)), ValueError,
     r'values=\(1\.5, 9\) should be a pair'),
    ('a chart config of no bar counts', lambda: ChartConfig(n_bars=()), ValueError, r'n_bars=\(\): give \(lo, hi\)'),
    ('render_chart of a string', lambda: render_chart('34'), TypeError, 'values must be a list of whole numbers'),
    ('render_chart of fractions', lambda: render_chart([2.7, 3]), ValueError, r'values=\[2\.7, 3\] must be whole numbers'),
    ('chart_text of more labels than bars', lambda: chart_text([1, 2, 3], [1]), ValueError, 'two lists of one length'),
    ('a text image at index 1.5', lambda: TextImages(4)[1.5], IndexError, r'index 1\.5 out of range for 4 images'),
    ('text_sample_scores of charts', lambda: text_sample_scores(torch.zeros(2, 1, 32, 32), ChartConfig()), TypeError,
     'config must be of type TextConfig or TextImages'),
    ('frechet_distance of a NaN mean', lambda: frechet_distance(torch.full((3,), math.nan), torch.eye(3), torch.zeros(3),
                                                                 torch.eye(3)), ValueError, 'must be finite'),
    ('train_classifier of 8-bit images', lambda: train_classifier(torch.utils.data.TensorDataset(
        torch.rand(8, 1, 32, 32) * 255, torch.arange(8) % 2), steps=1), ValueError, 'train images range over'),
    ('compare_config with one string for a list', lambda: compare.compare_config('test', tok_set='n_depth=2'),
     ValueError, "tok_set='n_depth=2' must be a tuple of strings"),
    ('chart_summary of no scores', lambda: chart_summary({}), TypeError, 'what chart_scores returns'),
    ('gaussian_stats of NaN features', lambda: gaussian_stats(torch.full((4, 3), math.nan)), ValueError,
     'features hold NaN'),
    ('sqrtm_psd of a matrix not square', lambda: sqrtm_psd(torch.zeros(3, 4)), ValueError,
     r'a must be a finite square matrix; got shape \(3, 4\)'),
    ('features of a model without features', lambda: features(TOY, torch.zeros(2, 1, 32, 32)), TypeError,
     'net must have a features method'),
    ('real_reference of nothing', lambda: real_reference([]), ValueError, 'test is empty'),
    ('real_reference of codes', lambda: real_reference(torch.utils.data.TensorDataset(
        torch.randint(2, 32, (4, 3, 4, 3)), torch.zeros(4, dtype=torch.long))), ValueError,
     'test images range over'),
    ('real_reference with a name for a classifier', lambda: real_reference(TextImages(4), 'net'), TypeError,
     'classifier must be a net with a features method'),
    ('variant_cost of a tokenizer config', lambda: variant_cost(RQVAEConfig.text()), TypeError,
     'cfg must be of type DnDConfig; got RQVAEConfig'),
    ('variant_cost of no steps', lambda: variant_cost(DnDConfig.toy(), steps=0), ValueError,
     'steps=0 must be a whole number'),
    ('set_rng_state of a checkpoint', lambda: set_rng_state({'model': {}}), ValueError, "a checkpoint's 'rng'"),
    ('save_checkpoint of a state dict', lambda: save_checkpoint('never.pt', TOY.state_dict()), TypeError,
     'model must be of type Module; got OrderedDict'),
    ('save_checkpoint with a list for meta', lambda: save_checkpoint('never.pt', TOY, meta=['a']), TypeError,
     'meta must be of type dict; got list'),
    ('fingerprint of a number', lambda: fingerprint(5), TypeError, 'model_or_state must be of type Module or dict'),
    ('format_table of no results', lambda: format_table({}), ValueError, "res must be a comparison's results"),
    ('plot_samples_by_run with a name for a list', lambda: plot_samples_by_run(
        {'config': {}, 'runs': {'dnd': [{}]}, 'summary': {}, 'curves': {}}, '.', names='dnd'), TypeError,
     "names must be a list of runs, not 'dnd'"),
    ('show_run_samples of a run never sampled', lambda: show_run_samples(
        {'config': {}, 'runs': {'dnd': [{}]}, 'summary': {}, 'curves': {}}, '.', 'dnd'), FileNotFoundError,
     "No samples of run 'dnd'"),
    ('write_figures into no folder', lambda: write_figures(
        {'config': {}, 'runs': {'dnd': [{}]}, 'summary': {}, 'curves': {}}, 'nope'), FileNotFoundError,
     'is not a folder: create it first'),
    ('summarize a list', lambda: summarize([{}]), ValueError, "map each run's name")])
def test_the_newer_apis_refuse_clearly(what, call, exc, phrase, tmp_path, monkeypatch):
    """These gave an AttributeError, a KeyError, a RuntimeError from inside torch, or numbers (nan, zeros, bits of
    a reshaped grid) for input that cannot be scored; and they write nothing."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc, match=phrase): call()
    assert snapshot(tmp_path) == {}

# ---- second round: big requests are refused before any work, and Ctrl-C stops at once ---------------------------

@pytest.mark.parametrize('setting, phrase', [
    ('n_train=1000000000', 'n_train=1,000,000,000, n_test=16 and n_samples=8 (in 1 process) need about'),
    ('n_samples=100000000', 'n_samples=100,000,000 (in 1 process) need about'),
    ('n_test=10000000000', 'n_test=10,000,000,000 and')])
def test_a_comparison_too_big_for_memory_is_refused_before_any_work(tmp_path, setting, phrase):
    "Such sizes were accepted, and the comparison ran until the machine ran out of memory."
    t0 = time.perf_counter()
    refused(*script('dnd_nano_compare', '--preset', 'test', '--out', tmp_path/'c', '--device', 'cpu',
                    '--set', setting), phrase, 'GiB of memory, more than half of this machine')
    assert time.perf_counter() - t0 < 5 and snapshot(tmp_path) == {}

@pytest.mark.parametrize('name, args', [
    ('dnd_nano_sample', ['--n', '4096', '--batch-size', '1']),
    ('dnd_nano_train', ['--steps', '100000', '--batch-size', '8', '--ckpt-every', '100000'])])
def test_ctrl_c_stops_within_a_second_and_writes_nothing_partial(files, tmp_path, name, args):
    "SIGINT in the middle of the work: the program ends within a second, and leaves no partial output."
    import signal
    if name == 'dnd_nano_sample':
        args = ['--model', files['model'], '--tokenizer', files['tok'], '--out', str(tmp_path/'s.png'), *args]
    else: args = ['--codes', files['codes'], '--out', str(tmp_path/'run'), '--set', *TINY_MODEL, *args]
    # the entry point's own function, after a line that says its imports are done (they take seconds on a cold start)
    entry = {'dnd_nano_sample': 'sample', 'dnd_nano_train': 'train'}[name]
    # Ctrl-C's handler as in a terminal: a process started in the background (as CI may start its tests) inherits
    # SIGINT ignored
    code = (f"import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            f"from dnd_nano.cli import {entry}; print('imported', flush=True); sys.exit({entry}(sys.argv[1:]))")
    p = subprocess.Popen([sys.executable, '-c', code, *map(str, args), '--device', 'cpu'], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.stdout.readline().strip() == 'imported'
    time.sleep(4)                           # past loading the files: sampling or training
    assert p.poll() is None, p.stdout.read()
    t0, out, stopped = time.perf_counter(), '', None
    p.send_signal(signal.SIGINT)
    for line in p.stdout:                  # the work stops at once; the interpreter's exit follows
        out += line
        if 'interrupted' in line: stopped = time.perf_counter() - t0
    p.wait(timeout=30)
    assert stopped is not None and stopped < 1, f"{name}: {stopped} s to stop\n{out}"
    assert p.returncode == 130 and 'Traceback' not in out, out
    after = snapshot(tmp_path)
    assert not [f for f in after if '.tmp' in f or f.endswith('.png')], after  # no partial file, no grid image
    ckpt = tmp_path/'run'/'model.pt'
    assert not ckpt.exists() or read_checkpoint(ckpt)['step'] >= 0  # a checkpoint left is a whole one

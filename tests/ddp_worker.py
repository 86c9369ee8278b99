"Run by tests/test_distributed.py under torchrun: train a small model with `fit` on gloo and save this rank's weights."
import os, sys
import torch
from dnd_nano.train import fit, dist_info

def build(kind):
    if kind == 'tokenizer':
        from dnd_nano.tokenizer import RQVAE, RQVAEConfig
        from dnd_nano.text import TextImages
        model = RQVAE(RQVAEConfig.text(channels=16, latent_dim=8, codebook_size=16, n_depth=2))
        ds = TextImages(n=64)
    else:
        from dnd_nano.model import DnDTransformer, DnDConfig
        cfg = DnDConfig.tiny(n_classes=3, class_dropout=0.1)  # dropout of labels: exercises the random generators
        model = DnDTransformer(cfg)
        g = torch.Generator().manual_seed(0)
        H, W = cfg.grid
        codes = torch.randint(0, cfg.vocab_size, (64, H, W, cfg.n_depth), generator=g)
        ds = torch.utils.data.TensorDataset(codes, torch.randint(0, 3, (64,), generator=g))
    return model, ds

if __name__ == '__main__':
    kind, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(1234 + dist_info()[0])  # different init per rank: DDP must make them agree
    model, ds = build(kind)
    fit(model, ds, steps=4, batch_size=8, lr=1e-3, device='cpu', progress=False)
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, os.path.join(out, f'rank{dist_info()[0]}.pt'))
    import torch.distributed as dist
    dist.barrier(); dist.destroy_process_group()

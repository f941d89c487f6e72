"""Every shipped model's lineage: the training stages it came from, in order, as data.

A stage is one `python -m training train` run: a base recipe of `config.RECIPES`, the config fields set on top
(what the run's `--set`s and the recipe's defaults of the time made its config), the stage it started from
(`--init`) and why. `python -m training rebuild NAME` replays a lineage (`rebuild.py`), and every export
names its stage in the ONNX metadata (`recipe_stage`, from the config's `stage`).

Transcribed from the stage log `training/README.md` kept until 2a865f6, the commit messages (`git log --
training/ onnx_models/`) and the `train_config` and `metrics.init` of each shipped file in git's history; the
overrides of each stage below give the config that file recorded (tests/test_training_recipes.py holds the
last stage of each lineage to today's files). Where the recipe's defaults have moved on since, a stage sets
the old values back (e.g. `res_blocks=()` before photo_denoise v5.0). Replaying gives a model of the same
recipe, not the same weights: the code, the photo sets and the machines (and their speed, which the time
budgets run on) have changed.

Stages are named by the version they shipped as ("v5.6"); stages that did not ship are named by the version
of the next one and a number ("v4.0-1"). Stages that were tried and not shipped sit in comments, not in the
lineage: a lineage is the shipped model's ancestry only.
"""

from dataclasses import dataclass, field
from typing import Any

from training.config import RECIPES, RecipeConfig, override_config


@dataclass(frozen=True)
class Stage:
    """One training run of a lineage."""

    name: str  # unique in its lineage; also the stage's folder in a rebuild
    recipe: str  # base config: a key of config.RECIPES
    why: str  # one line: what the stage changed, and why
    init: str = ""  # the stage whose weights it starts from; "" for random weights
    # it started from `init`'s exported ONNX files (`--init onnx_models/...`), so the parts those files leave
    # out (a VAE-GAN's critic) started fresh; False: from the run folder, critic and all
    from_files: bool = False
    # >0: `init`'s weights widened to this many channels at full resolution first (`python -m training
    # widen`, a conditioned U-Net), so a bigger net starts from the smaller one's function
    widen_to: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields on top of the recipe


# photo_denoise before v5.0 had no residual blocks (the recipe's default since)
NO_RES = {"res_blocks": ()}
# the sets of every photo_denoise stage from v4.2 on (README, stages 3-10), beside the loss, lr and crops
PHOTO_DENOISE_SETS = {"warmup": 0.03, "augment": "dihedral", "channels_last": True, "grey_share": 0.1}
# cans-vae-gan's defaults at v4.0 and v4.1 (config.py at 527dda4 and d1d4ca6), before the decoder blocks,
# beta 8, the codes between, general photos and the 32-component prior became its defaults
CANS_GAN_V4 = {
    "version": "4.0",
    "beta": 32.0,
    "prior_components": 8,
    "critic_codes": "normal",
    "decoder_res_blocks": (),
    "photo_share": 0.0,
    "warmup": 0.0,
    "adv_weight": 0.5,
    "lr": 2e-4,
    "time_budget_s": 2100.0,
}
# the v4.1 stages' common sets (README: "same sets")
CANS_V41_SETS = {"beta": 16.0, "critic_codes": "between", "lr": 1e-4, "warmup": 0.03}
# the v5.0 and v5.1 runs: 8 components still (v5.3 made 32 the default, fitted at export)
CANS_V5_SETS = {
    "decoder_res_blocks": (0, 0, 1, 1),
    "beta": 8.0,
    "critic_codes": "between",
    "adv_weight": 0.75,
}
CANS_V5_SETS |= {"warmup": 0.03, "prior_components": 8, "photo_share": 0.0}

# the real-photo upscaler's mix from v1.1 on (v1.0's defaults blurred 60 % of the inputs)
SR_REAL_SHARES = {
    "clean_share": 0.3,
    "blur_share": 0.15,
    "blur_sigma_max": 1.2,
    "noise_share": 0.15,
    "jpeg_share": 0.85,
}
# photo_sr_x2, which photo_sr_x2_real continues
PHOTO_SR_X2_STAGES = [
    # v1.0 (sr-convt, width 32 depth 5, on the cans alone, 4 min) is not an ancestor: v2.0 started afresh
    Stage(
        "v2.0",
        "photo-sr-x2",
        "the residual upscaler (173 k weights) on the general photos + cans, 70 min from scratch",
        overrides={"time_budget_s": 4200.0},
    ),
    Stage(
        "v2.1",
        "photo-sr-x2",
        "128-px crops (64-px inputs) at a lower lr",
        init="v2.0",
        from_files=True,
        overrides={"crop_size": 128, "lr": 2e-4, "time_budget_s": 3840.0, "version": "2.1"},
    ),
    Stage(
        "v2.2",
        "photo-sr-x2",
        "more steps at a lower lr (both photo models were still improving)",
        init="v2.1",
        from_files=True,
        overrides={"crop_size": 128, "lr": 1.5e-4, "time_budget_s": 6300.0, "version": "2.2"},
    ),
    Stage(
        "v2.3",
        "photo-sr-x2",
        "more steps, with a warmup for the fresh Adam",
        init="v2.2",
        from_files=True,
        overrides={
            "crop_size": 128,
            "lr": 1.5e-4,
            "warmup": 0.03,
            "time_budget_s": 6750.0,
            "version": "2.3",
        },
    ),
    # v2.4 (depth=5 from v2.3, 100 min) was not shipped: no Set14 gain for 17% more time
    Stage(
        "v2.5",
        "photo-sr-x2",
        "the L2 loss (the mean squared error, the benchmarks' PSNR) instead of L1",
        init="v2.3",
        from_files=True,
        overrides={"loss": "l2", "crop_size": 128, "lr": 1e-4, "warmup": 0.03, "time_budget_s": 6600.0}
        | {"version": "2.5"},
    ),
]

# photo_sr_x2_real's own stages after photo_sr_x2's, which the native x4 continues too
SR_X2_REAL_STAGES = [
    Stage(
        "v1.1",
        "photo-sr-x2-real",
        "told the JPEG quality, from v2.5's file: blur and noise on 15 % of the inputs each, JPEG on "
        "85 %, 30 min",
        init="v2.5",
        from_files=True,
        overrides=SR_REAL_SHARES | {"time_budget_s": 1800.0, "version": "1.1"},
    ),
    Stage(
        "v1.2",
        "photo-sr-x2-real",
        "90 min more at lr 1e-4 (26 epochs of 2048 96-px crops beside a second training); "
        "jpeg_quality_max 88 set at export: on the photos' validation split it beats v2.5 from JPEGs "
        "of quality 85 and below and loses from 90 and above",
        init="v1.1",
        overrides=SR_REAL_SHARES
        | {"lr": 1e-4, "time_budget_s": 5400.0, "version": "1.2", "jpeg_quality_max": 88},
    ),
]

LINEAGES: dict[str, list[Stage]] = {
    "fashion_dae_mlp": [
        Stage(
            "v1.0",
            "fashion-dae-mlp",
            "seed 001's MLP as the seed describes it; seed 4 had the lowest validation loss of seeds 0-6 "
            "(trained on 2 threads: runs repeat for one thread count only)",
        ),
    ],
    "fashion_dae_conv": [
        Stage(
            "v2.0",
            "fashion-dae-conv",
            "a noise-conditioned U-Net at full resolution with LeakyReLU, 20 min (the earlier Intel machine)",
        ),
        Stage(
            "v2.1",
            "fashion-dae-conv",
            "per-image log-L1, so every noise level counts by its relative error, at half the lr",
            init="v2.0",
            from_files=True,
            overrides={"loss": "log-l1", "lr": 2.5e-4, "channels_last": True, "time_budget_s": 1500.0}
            | {"version": "2.1"},
        ),
        Stage(
            "v2.2",
            "fashion-dae-conv",
            "the same again: v2.1's best epoch was its last, so it was still learning",
            init="v2.1",
            from_files=True,
            overrides={"loss": "log-l1", "lr": 2.5e-4, "channels_last": True, "time_budget_s": 1500.0}
            | {"version": "2.2"},
        ),
    ],
    "fashion_sr_x2": [
        Stage(
            "v1.0",
            "fashion-sr-x2",
            "seed 004's x2 upscaler: convolutions and a transposed convolution, 4 min",
        ),
    ],
    "fashion_vae": [
        # v1.0 (4 min) was replaced by v2.0 trained from scratch for 8 min
        Stage("v2.0", "fashion-vae", "the conv VAE with a 16-number code, 8 min from scratch"),
        Stage(
            "v3.0-1",
            "fashion-vae-gan",
            "the VAE beside a patch critic (adv 0.5), for sharper samples, with a 16-component mixture prior",
            init="v2.0",
            from_files=True,
        ),
        Stage(
            "v3.0",
            "fashion-vae-gan",
            "more adversarial weight, the critic judging decodes of codes between the batch's (where the "
            "mixture and the interpolation take the decoder), lower lr",
            init="v3.0-1",
            overrides={"adv_weight": 1.0, "critic_codes": "between", "lr": 1e-4, "time_budget_s": 900.0},
        ),
    ],
    "photo_sr_x2": [
        *PHOTO_SR_X2_STAGES,
        # v2.6 also went with half the inputs JPEG'd at quality 80-98 (the same 95 min beside this one): on
        # the photos' validation split x2 from PNG / q90 / q85 33.00 / 31.74 / 31.01 dB against this one's
        # 33.09 / 31.65 / 30.89 and v2.5's 33.14 / 31.42 / 30.64; this one keeps more of the lossless files
        Stage(
            "v2.6",
            "photo-sr-x2",
            "35 % of the inputs saved as JPEGs of quality 85-98, not told (the app gives this model lossless "
            "files and JPEGs above photo_sr_x2_real's jpeg_quality_max), lr 5e-5: 28 epochs of 2048 128-px "
            "crops in 95 min at 9.7 crops/s beside a second training; its validation best (epoch 24) shipped",
            init="v2.5",
            from_files=True,
            overrides={"loss": "l2", "crop_size": 128, "lr": 5e-5, "warmup": 0.03, "time_budget_s": 5700.0}
            | {"light_jpeg_share": 0.35, "light_jpeg_quality": (85, 98), "version": "2.6"},
        ),
    ],
    "photo_denoise": [
        # v1 (below its targets) is not an ancestor: v2 started afresh at full resolution
        Stage(
            "v2.0",
            "photo-denoise",
            "the full-resolution 4-level U-Net on the can photos, 25 min from scratch",
            overrides=NO_RES | {"dataset": "coca-vs-pepsi", "version": "2.0"},
        ),
        # The README's command for v2.1 sets no version: the run kept v2.0's.
        Stage(
            "v2.1",
            "photo-denoise",
            "per-image log-L1, so every noise level counts by its relative error, at half the lr",
            init="v2.0",
            overrides=NO_RES | {"dataset": "coca-vs-pepsi", "version": "2.0", "loss": "log-l1", "lr": 2.5e-4},
        ),
        Stage(
            "v3.0",
            "photo-denoise",
            "crops in all eight flips and quarter turns (the app's self-ensemble), NHWC, batch 16, 40 min",
            init="v2.1",
            from_files=True,  # its metadata's init; the README's command names the v2.1 run folder
            overrides=NO_RES
            | {"dataset": "coca-vs-pepsi", "loss": "log-l1", "lr": 2.5e-4, "augment": "dihedral"}
            | {"channels_last": True, "batch_size": 16, "time_budget_s": 2400.0, "version": "3.0"},
        ),
        Stage(
            "v4.0",
            "photo-denoise",
            "the general photos (photos/train + the cans) instead of the cans alone, 70 min",
            init="v3.0",
            from_files=True,
            overrides=NO_RES
            | {"loss": "log-l1", "lr": 3e-4, "augment": "dihedral", "channels_last": True, "batch_size": 16}
            | {"time_budget_s": 4200.0, "version": "4.0"},
        ),
        Stage(
            "v4.1",
            "photo-denoise",
            "96-px crops at lr 1e-4 (a restart at 2e-4 knocked validation back further)",
            init="v4.0",
            from_files=True,
            overrides=NO_RES
            | {"loss": "log-l1", "lr": 1e-4, "augment": "dihedral", "channels_last": True, "crop_size": 96}
            | {"batch_size": 8, "time_budget_s": 3840.0, "version": "4.1"},
        ),
        Stage(
            "v4.2",
            "photo-denoise",
            "a tenth of the crops grey (how a grayscale photo reaches the RGB model), a warmup, 100 min",
            init="v4.1",
            from_files=True,
            overrides=NO_RES
            | PHOTO_DENOISE_SETS
            | {"loss": "log-l1", "lr": 1e-4, "crop_size": 96, "batch_size": 8, "time_budget_s": 6000.0}
            | {"version": "4.2"},
        ),
        Stage(
            "v5.0",
            "photo-denoise",
            "two residual blocks at half, quarter and eighth resolution (starting as the identity), 115 min",
            init="v4.2",
            from_files=True,
            overrides={"res_blocks": (0, 2, 2, 2)}
            | PHOTO_DENOISE_SETS
            | {"loss": "log-l1", "lr": 1e-4, "crop_size": 96, "batch_size": 8, "time_budget_s": 6900.0}
            | {"version": "5.0"},
        ),
        Stage(
            "v5.1",
            "photo-denoise",
            "v5.0's command again: steps are what the net lacks",
            init="v5.0",
            from_files=True,
            overrides=PHOTO_DENOISE_SETS
            | {"loss": "log-l1", "lr": 1e-4, "crop_size": 96, "batch_size": 8, "time_budget_s": 6900.0}
            | {"version": "5.1"},
        ),
        Stage(
            "v5.2",
            "photo-denoise",
            "128-px crops at a lower peak lr",
            init="v5.1",
            from_files=True,
            overrides=PHOTO_DENOISE_SETS
            | {"loss": "log-l1", "lr": 7e-5, "crop_size": 128, "batch_size": 4, "time_budget_s": 6600.0}
            | {"version": "5.2"},
        ),
        Stage(
            "v5.3",
            "photo-denoise",
            "a lower peak lr still (a smaller restart dip, no faster progress)",
            init="v5.2",
            from_files=True,
            overrides=PHOTO_DENOISE_SETS
            | {"loss": "log-l1", "lr": 4e-5, "crop_size": 128, "batch_size": 4, "time_budget_s": 6300.0}
            | {"version": "5.3"},
        ),
        Stage(
            "v5.4",
            "photo-denoise",
            "the same recipe at a peak of 5e-5",
            init="v5.3",
            from_files=True,
            overrides=PHOTO_DENOISE_SETS
            | {"loss": "log-l1", "lr": 5e-5, "crop_size": 128, "batch_size": 4, "time_budget_s": 5100.0}
            | {"version": "5.4"},
        ),
        # A log-L1 stage from v5.4 ran for 15 minutes and was stopped for v5.5: not an ancestor.
        Stage(
            "v5.5",
            "photo-denoise",
            "log-L2, the mean over images of log RMS error: the benchmarks' mean PSNR, where log-L1 rewarded "
            "the median",
            init="v5.4",
            from_files=True,
            overrides=PHOTO_DENOISE_SETS
            | {"loss": "log-l2", "lr": 5e-5, "crop_size": 128, "batch_size": 4, "time_budget_s": 6600.0}
            | {"version": "5.5"},
        ),
        Stage(
            "v5.6",
            "photo-denoise",
            "v5.5's command again (a second log-L2 stage gained less than half the first's step)",
            init="v5.5",
            from_files=True,
            overrides=PHOTO_DENOISE_SETS
            | {"loss": "log-l2", "lr": 5e-5, "crop_size": 128, "batch_size": 4, "time_budget_s": 6600.0}
            | {"version": "5.6"},
        ),
        # v6.0: the real-photo denoiser (issue 32), from v5.6's file; v5.6 stays shipped as
        # photo_denoise_gaussian (the same lineage's v5.6), which the app picks for synthetic Gaussian noise.
        # Started with time_budget_s 5400, resumed twice (--resume, 7600 then 6600 s): 110 min, 13 epochs
        # of 2048 128-px crops, 3.7 crops/s beside a second training and four test suites
        Stage(
            "v6.0",
            "photo-denoise-real",
            "camera noise (Brooks et al.), JPEG and Gaussian draws, its own noise estimate, the JPEG "
            "quality as an input; 110 min from v5.6",
            init="v5.6",
            from_files=True,
            overrides={"time_budget_s": 6600.0},
        ),
        # v6.1 shipped its stage's last checkpoint (epoch 13), not the validation best (epoch 3 of this mix):
        # chosen on polyu-val Auto, 37.40 dB against the best's 36.64 and v6.0's 37.26 (Kodak24 JPEG q10-q40
        # 29.85 / 32.18 / 33.53 / 34.48 against v6.0's 29.77 / 32.08 / 33.43 / 34.39)
        Stage(
            "v6.1",
            "photo-denoise-real",
            "fewer Gaussian draws (0.2; the app gives synthetic Gaussian noise to v5.6), more camera noise "
            "and JPEG (0.4 each), lr 5e-5: 100 min from v6.0's run, 13 epochs beside a second training",
            init="v6.0",
            overrides={"time_budget_s": 6000.0, "lr": 5e-5, "version": "6.1"}
            | {"gaussian_share": 0.2, "camera_share": 0.4, "jpeg_share": 0.4},
        ),
        # v6.2 shipped its stage's last checkpoint too (epoch 14; the validation loss's best was epoch 3):
        # polyu-val Auto 37.56 dB against v6.1's 37.40, Kodak24 JPEG q10-q40 29.88 / 32.21 / 33.56 / 34.52
        Stage(
            "v6.2",
            "photo-denoise-real",
            "the same mix from v6.1's file (its last checkpoint, which shipped), lr 5e-5 again: 14 epochs "
            "of a 120-min budget",
            init="v6.1",
            from_files=True,
            overrides={"time_budget_s": 7200.0, "max_epochs": 14, "lr": 5e-5, "version": "6.2"}
            | {"gaussian_share": 0.2, "camera_share": 0.4, "jpeg_share": 0.4},
        ),
        # v6.3 shipped its stage's last checkpoint as well (epoch 14; the validation best, epoch 9, gave
        # polyu-val Auto 37.24 dB and Kodak24 JPEG q10 29.77 against the last's 37.60 and 29.95)
        Stage(
            "v6.3",
            "photo-denoise-real",
            "the same mix from v6.2's file with fresh draws (seed 3), lr 5e-5: 14 epochs of a 110-min "
            "budget, 74 min at 6.5 crops/s beside a second training",
            init="v6.2",
            from_files=True,
            overrides={"time_budget_s": 6600.0, "max_epochs": 14, "lr": 5e-5, "version": "6.3", "seed": 3}
            | {"gaussian_share": 0.2, "camera_share": 0.4, "jpeg_share": 0.4},
        ),
        # v6.4 (v6.3's file widened to 24 channels at full resolution, `widen_to=24`; lr 1e-4 over 110 min,
        # seed 4: 13 epochs at 4.0 crops/s beside a second training) was not shipped: its validation best
        # (epoch 12, -3.596 against v6.3's -3.589) gave polyu-val Auto 37.53 dB against v6.3's 37.61
        # (Kodak24 JPEG q10-q40 with its own strength table 30.31 / 32.46 / 33.72 / 34.64 against v6.3's
        # 30.29 / 32.43 / 33.69 / 34.58)
    ],
    # The real-photo x2 upscaler (issue 33): photo_sr_x2's lineage to v2.5, then trained on the real-photo
    # degradations from v2.5's file. v1.0 (blur on 60 % of the inputs, 90 min) was not an ancestor: it learnt
    # to sharpen what was never blurred (Set14 x2 from q90 JPEG 30.24 dB against v2.5's 31.29).
    # v1.3 (v1.2's file, fresh draws with seed 1, lr 1e-4 over 100 min, 45 epochs at 15 crops/s) was not
    # shipped: Set14 x2 through the batch CLI from clean / q75 / q90 LR 32.43 / 30.15 / 31.12 against v1.2's
    # 32.45 / 30.14 / 31.02, and the app gives q90 JPEGs to photo_sr_x2 v2.5 (31.29) either way.
    "photo_sr_x2_real": [*PHOTO_SR_X2_STAGES, *SR_X2_REAL_STAGES],
    # The native x4 upscaler (issue 33): photo_sr_x2_real's lineage, then a x4 network (one more x2 step
    # in its tail) started from v1.2's run, the tail's new layers fresh. Its one run was stopped after 30
    # min of a 45-min budget and resumed (`train --resume`) with the budget extended to 150 min, which
    # stretched the cosine from there, and resumed again with max_epochs 41 to end it by its own rule at
    # 2.3 h: a replay with the final fields has the longer cosine from the start.
    "photo_sr_x4": [
        *PHOTO_SR_X2_STAGES,
        *SR_X2_REAL_STAGES,
        Stage(
            "x4-v1.0",
            "photo-sr-x4-real",
            "x4 in one pass, from the x2 model's run; half the inputs clean (the app gives it PNGs too); "
            "41 epochs of 2048 192-px crops, 2.3 h, of a 150-min budget",
            init="v1.2",
            overrides=SR_REAL_SHARES
            | {"clean_share": 0.5, "blur_sigma_max": 2.0, "time_budget_s": 9000.0, "max_epochs": 41},
        ),
        # x4-v1.1 shipped its validation best (epoch 20 of 36; its last checkpoint gave Set14 x4 from clean /
        # q75 / q90 LR 27.91 / 26.37 / 27.18 dB against the best's 27.93 / 26.41 / 27.21)
        Stage(
            "x4-v1.1",
            "photo-sr-x4-real",
            "the same mix from v1.0's file with fresh draws (seed 1), lr 1e-4 on a cosine over 100 min: "
            "36 epochs at 13 crops/s on one thread beside the evaluation",
            init="x4-v1.0",
            from_files=True,
            overrides=SR_REAL_SHARES
            | {"clean_share": 0.5, "blur_sigma_max": 2.0, "time_budget_s": 6000.0, "max_epochs": 40}
            | {"lr": 1e-4, "seed": 1, "version": "1.1"},
        ),
        # x4-v1.2 (v1.1's file with five more residual blocks, depth 10, the new ones starting as the
        # identity; lr 2e-4 over 110 min, seed 2: 20 epochs at 6.0 crops/s beside a second training) was not
        # shipped: its validation loss went below v1.1's (0.00539 against 0.00542), but Set14 x4 through the
        # batch CLI from clean / q75 / q90 LR gave 27.91 / 26.36 / 27.16 against v1.1's 27.93 / 26.41 / 27.21
    ],
    "cans_vae": [
        # v1 (transposed convolutions, beta 1) is not an ancestor: v3 started afresh
        Stage(
            "v3.0",
            "cans-vae",
            "a nearest-upsampling decoder (no checkerboard) and beta 32 (samples are cans, not colour mush), "
            "10 min from scratch",
        ),
        # v4.0's first two stages were stopped by hand; max_epochs ends them where their kept checkpoint was,
        # on the same cosine over the recipe's budget of the time.
        Stage(
            "v4.0-1",
            "cans-vae-gan",
            "the VAE beside a patch critic (adv 0.5) with an 8-component mixture prior; stopped by hand "
            "after 10 min, its epoch-4 checkpoint kept",
            init="v3.0",
            from_files=True,
            overrides=CANS_GAN_V4 | {"max_epochs": 4},
        ),
        Stage(
            "v4.0-2",
            "cans-vae-gan",
            "adv 2.0: sharp edges, but reconstruction knocked back (stopped after 5 epochs, 7 min)",
            init="v4.0-1",
            overrides=CANS_GAN_V4 | {"adv_weight": 2.0, "max_epochs": 5},
        ),
        Stage(
            "v4.0",
            "cans-vae-gan",
            "adv 1.0 at lr 1e-4 for 21 min: between the two",
            init="v4.0-2",
            overrides=CANS_GAN_V4 | {"adv_weight": 1.0, "lr": 1e-4, "time_budget_s": 1260.0},
        ),
        Stage(
            "v4.1-1",
            "cans-vae-gan",
            "beta 16 (twice v4's code length) and the critic on codes between the batch's, fresh critic",
            init="v4.0",
            from_files=True,
            overrides=CANS_GAN_V4 | CANS_V41_SETS | {"adv_weight": 1.0},
        ),
        Stage(
            "v4.1-2",
            "cans-vae-gan",
            "adv 0.5: the critic had pulled reconstruction down",
            init="v4.1-1",
            overrides=CANS_GAN_V4 | CANS_V41_SETS | {"adv_weight": 0.5},
        ),
        Stage(
            "v4.1",
            "cans-vae-gan",
            "adv 0.75, between the two, 30 min",
            init="v4.1-2",
            overrides=CANS_GAN_V4
            | CANS_V41_SETS
            | {"adv_weight": 0.75, "time_budget_s": 1800.0, "version": "4.1"},
        ),
        Stage(
            "v5.0",
            "cans-vae-gan",
            "a residual block after the decoder's 16- and 32-px upsampling (it underfitted its own training "
            "photos), beta 8, 90 min",
            init="v4.1",
            from_files=True,
            overrides=CANS_V5_SETS | {"lr": 1e-4, "time_budget_s": 5400.0, "version": "5.0"},
        ),
        Stage(
            "v5.1",
            "cans-vae-gan",
            "on at lr 7e-5, the critic carrying on (chosen over v5.0 on the validation photos and by eye)",
            init="v5.0",
            overrides=CANS_V5_SETS | {"lr": 7e-5, "time_budget_s": 6300.0, "version": "5.1"},
        ),
        # v5.2 (beta 6 from v5.1's files, 85 min) was not shipped: a longer code and worse reconstruction.
        # v5.3's run had 8 components; it was exported with `--prior-components 32`, today's default.
        Stage(
            "v5.3",
            "cans-vae-gan",
            "half the draws general photos (the prior fitted to the cans alone), fresh critic, 95 min",
            init="v5.1",
            from_files=True,
            overrides={"photo_share": 0.5, "lr": 7e-5, "time_budget_s": 5700.0, "version": "5.3"},
        ),
    ],
}


def find_stage(lineage: str, name: str) -> Stage:
    """The stage called `name` of a lineage."""
    stages = lineage_stages(lineage)
    for stage in stages:
        if stage.name == name:
            return stage
    raise ValueError(f"{lineage} has no stage {name!r}; stages: {', '.join(s.name for s in stages)}")


def lineage_stages(lineage: str, until: str | None = None) -> list[Stage]:
    """A lineage's stages in order, up to and including `until` (default: all)."""
    if lineage not in LINEAGES:
        raise ValueError(f"unknown lineage {lineage!r}; lineages: {', '.join(sorted(LINEAGES))}")
    stages = LINEAGES[lineage]
    if until is None:
        return list(stages)
    names = [s.name for s in stages]
    if until not in names:
        raise ValueError(f"{lineage} has no stage {until!r}; stages: {', '.join(names)}")
    return list(stages[: names.index(until) + 1])


def stage_config(lineage: str, stage: Stage) -> RecipeConfig:
    """The config a stage trains with: its recipe, its overrides, and its name in `stage`."""
    return override_config(RECIPES[stage.recipe], stage.overrides | {"stage": f"{lineage}/{stage.name}"})

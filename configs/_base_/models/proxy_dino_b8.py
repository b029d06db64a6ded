# ProxyCLIP's default proxy: DINO ViT-B/8 (release file dino_vitbase8_pretrain.pth from
# https://dl.fbaipublicfiles.com/dino/dino_vitbase8_pretrain/), beta 1.2, gamma 3.0.
# Other proxies: vfm='dinov2-B' (dinov2_vitb14_reg4_pretrain.pth), 'dino-B-16'
# (dino_vitbase16_pretrain.pth), 'sam-B' (sam_vit_b_01ec64.pth, input resized to 1024).
proxy_dino_b8 = dict(vfm='dino-B-8', weights='checkpoints/dino_vitbase8_pretrain.pth',
                     beta=1.2, gamma=3.0)

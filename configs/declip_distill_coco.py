# DeCLIP distillation on COCO: configs/declip/declip_distill_coco.py (work_dirs/declip_distill_coco).
_base_ = ['./declip/declip_distill_coco.py']

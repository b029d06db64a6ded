# DeCLIP distillation with the settings of the released B/16 training script
# (scripts/dist_DeCLIP_eva_vitb16_coco.sh) instead of the paper's: qq decoupling, context weight
# 0.1, weights blended 0.7 * student + 0.3 * initial CLIP at export.
_base_ = ['./declip_distill_coco.py']
model = dict(student=dict(attn_mode='qq'), loss_context_weight=0.1)
custom_hooks = [
    dict(type='DeCLIPDistillHook',
         vfm=dict(name='dinov2-B', weights={{_base_.dinov2_weights}}),
         alpha=0.7,
         export_name='declip_student.pt'),
]

# Distillation images: COCO train2017 (annotations/instances_train2017.json only lists them, no
# labels are read), each cut into a random grid of boxes drawn from (seed, epoch, image index)
# (GridDistillDataset). Each training config sets image_size, the batch and its grid style.
data_root = 'data/coco'
train_dataloader = dict(
    num_workers=4,
    persistent_workers=False,          # workers must see the dataset's epoch (grid sampling)
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='GridDistillDataset', data_root=data_root, img_dir='train2017',
                 ann_file='annotations/instances_train2017.json', student_patch=16, max_split=6,
                 seed=0))

from .test import check_test_dataset, load_test_config, per_class_iou, run_test

__all__ = ['load_test_config', 'run_test', 'check_test_dataset', 'per_class_iou']

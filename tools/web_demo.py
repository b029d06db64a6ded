"""A web page for your own images and class names, every method of the project in one form.

    python tools/web_demo.py                                   # http://127.0.0.1:7860
    python tools/web_demo.py --checkpoint checkpoints/ViT-B-16.pt --port 8080
    python tools/web_demo.py --config configs/declip/demo.py   # DeCLIP selected at start

Options as tools/demo.py (--config, --checkpoint, --model, --device, --cfg-options), plus
--host, --port, --max-file-size, --queue-size, --keep-models, --out-dir.
"""


def main(argv=None):
    from declip_mmseg.apis.web_demo import main as serve
    serve(argv)


if __name__ == '__main__':
    main()

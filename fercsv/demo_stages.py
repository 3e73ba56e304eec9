"""Demo stages that need the train/export extras: train, evaluate, predict a photo, export."""


def stage_train(result, work, dataset, *, out, seed, epochs, **_):
    from .trainer import train

    run = work / "run"
    res = train(dataset, run, epochs=epochs or 12, batch_size=32, warmup_epochs=1, seed=seed, tta=False,
                out=lambda msg: out("    " + msg), verbose=2)
    out(f"[6] train: best validation accuracy {res.best_val_accuracy:.1%} (epoch {res.best_epoch}); "
        f"test accuracy {res.test_accuracy:.1%}\n    run folder {run}: best.keras, history.csv, curves.png, "
        f"confusion.png, report.json")
    result.update(run=str(run), test_accuracy=res.test_accuracy)


def stage_predict(result, work, dataset, *, out, seed, **_):
    import cv2

    from .faces import detect_faces
    from .modelio import load_model
    from .prediction import annotate, predict
    from .synth import synth_photo

    model = load_model(result["run"])
    photo, truth = synth_photo(seed=seed, check=lambda img, box: _found(detect_faces(img), box))
    preds = predict(model, photo)
    path = work / "photo_annotated.png"
    cv2.imwrite(str(path), annotate(photo, preds))
    cv2.imwrite(str(work / "photo.png"), photo)
    said = ", ".join(f"{p.label} {p.score:.0%}" for p in sorted(preds, key=lambda p: p.box[0]))
    out(f"[7] predict: {len(preds)} faces found in a synthetic photo (drawn: "
        f"{', '.join(t[1] for t in truth)}); predicted: {said}\n    annotated image {path}")
    result.update(photo=str(path), photo_predictions=[p.label for p in preds])


def _found(boxes, box):
    x, y, w, h = box
    return any(abs((bx + bw / 2) - (x + w / 2)) < w / 3 and abs((by + bh / 2) - (y + h / 2)) < h / 3
               for bx, by, bw, bh in boxes)


def stage_export(result, work, dataset, *, out, **_):
    try:
        from .export import export_onnx, export_tflite

        onnx = export_onnx(result["run"], work / "model.onnx", data=dataset)
        out(f"[8] export ONNX: {onnx.path}; onnxruntime vs Keras on {onnx.n_checked} faces: "
            f"max |diff| {onnx.max_abs_diff:.1e}, top-1 agreement {onnx.top1_agreement:.0%}")
        tfl = export_tflite(result["run"], work / "model.tflite", data=dataset)
        out(f"    export TFLite: {tfl.path}; max |diff| {tfl.max_abs_diff:.1e}, "
            f"top-1 agreement {tfl.top1_agreement:.0%}")
        result.update(onnx=str(onnx.path), onnx_max_diff=onnx.max_abs_diff, tflite=str(tfl.path))
    except ImportError as exc:
        out(f"[8] export skipped: {exc}")


STAGES = [stage_train, stage_predict, stage_export]

package org.tessel.ir.zoo;

import java.util.OptionalLong;

/**
 * The model families users deploy beyond classification backbones and encoders: an EfficientNet
 * (SiLU, squeeze-excitation), a ConvNeXt (depthwise 7x7, channels-last LayerNorm, GELU), a U-Net
 * (ConvTranspose or Resize upsampling, skip concatenations), a CRNN-style text recognizer (any
 * width) and an SSDLite detector with its box decoding. Each at its published size and as a
 * "-tiny" twin of the same structure; registered into the {@link Zoo} from here so the zoo's own
 * table stays short.
 */
final class Families {
    private Families() {}

    private static final String IMAGE_224 = "input: f32[batch,3,224,224]";
    private static final String IMAGE_32 = "input: f32[batch,3,32,32]";

    static void register() {
        String efficientnet = "EfficientNet-B0: 3x3/2 stem, 16 MBConv blocks (1x1 expand, 3x3/5x5 depthwise, squeeze-excitation, "
                + "linear 1x1 project), SiLU as x*Sigmoid(x), BatchNormalization after every conv (unfolded), 1280-channel head, fc, softmax";
        Zoo.add("efficientnet-b0", efficientnet, IMAGE_224, "probabilities: f32[batch,1000]",
                new ModelCard.Reference(5_288_548, OptionalLong.of(386_000_000L), "torchvision efficientnet_b0: 5.289 M params, 0.39 GMACs"),
                Zoo.Knobs.NONE, (n, o) -> EfficientNet.build(n, EfficientNet.EFFICIENTNET_B0, o));
        Zoo.add("efficientnet-b0-tiny", "EfficientNet-B0 structure at width 0.25, one block per stage, 128-channel head, 32x32 input, 10 classes",
                IMAGE_32, "probabilities: f32[batch,10]", null,
                Zoo.Knobs.NONE, (n, o) -> EfficientNet.build(n, EfficientNet.EFFICIENTNET_B0_TINY, o));

        String convnext = "ConvNeXt-T: 4x4/4 stem + LayerNorm, stages [3,3,9,3] x [96,192,384,768] of blocks (depthwise 7x7, "
                + "to channels-last, LayerNorm, MatMul MLP 4x with GELU, back to NCHW, layer scale, residual), LayerNorm + 2x2/2 conv between stages, "
                + "global average pool, LayerNorm, fc, softmax";
        Zoo.add("convnext-tiny", convnext, IMAGE_224, "probabilities: f32[batch,1000]",
                new ModelCard.Reference(28_589_128, OptionalLong.of(4_456_000_000L), "torchvision convnext_tiny: 28.589 M params, 4.46 GMACs"),
                Zoo.Knobs.NONE, (n, o) -> ConvNeXt.build(n, ConvNeXt.CONVNEXT_TINY, o));
        Zoo.add("convnext-tiny-tiny", "ConvNeXt structure with widths [8,16,32,64], one block per stage, 32x32 input, 10 classes",
                IMAGE_32, "probabilities: f32[batch,10]", null,
                Zoo.Knobs.NONE, (n, o) -> ConvNeXt.build(n, ConvNeXt.CONVNEXT_TINY_CI, o));

        String unet = "U-Net (milesial/Pytorch-UNet, bilinear=False): double 3x3 conv + BN + ReLU per level, 64 to 1024 channels, "
                + "2x2 max pools, 2x2/2 ConvTranspose up-convolutions, skip Concat per level, 1x1 conv to 2 class logits per pixel";
        Zoo.add("unet", unet, "input: f32[batch,3,256,256]", "logits: f32[batch,2,256,256]",
                new ModelCard.Reference(31_037_698, OptionalLong.of(48_171_581_440L),
                        "milesial/Pytorch-UNet UNet(3, 2): 31.04 M params; multiply-adds counted analytically at 256x256"),
                Zoo.Knobs.NONE, (n, o) -> UNet.build(n, UNet.UNET, o));
        Zoo.add("unet-tiny", "U-Net structure (ConvTranspose upsampling) with 8 to 128 channels, 32x32 input, 2 classes",
                "input: f32[batch,3,32,32]", "logits: f32[batch,2,32,32]", null,
                Zoo.Knobs.NONE, (n, o) -> UNet.build(n, UNet.UNET_TINY, o));
        Zoo.add("unet-bilinear", "U-Net (milesial/Pytorch-UNet, bilinear=True): as unet, upsampling by bilinear Resize (align_corners), "
                        + "bottom level and up steps at half width",
                "input: f32[batch,3,256,256]", "logits: f32[batch,2,256,256]",
                new ModelCard.Reference(17_263_042, OptionalLong.of(39_984_300_032L),
                        "milesial/Pytorch-UNet UNet(3, 2, bilinear=True): 17.26 M params (counted from its layer table); multiply-adds counted analytically at 256x256"),
                Zoo.Knobs.NONE, (n, o) -> UNet.build(n, UNet.UNET_BILINEAR, o));
        Zoo.add("unet-bilinear-tiny", "U-Net structure (bilinear Resize upsampling) with 8 to 128 channels, 32x32 input, 2 classes",
                "input: f32[batch,3,32,32]", "logits: f32[batch,2,32,32]", null,
                Zoo.Knobs.NONE, (n, o) -> UNet.build(n, UNet.UNET_BILINEAR_TINY, o));

        String crnn = "CRNN-style text recognizer: Shi et al.'s 7-conv feature extractor on 32-pixel-high grey images, "
                + "width columns as a sequence, 2-layer pre-LN transformer encoder (hidden 256, 4 heads, FFN 1024, where the paper has "
                + "a BiLSTM: crnn-lstm is the paper's), per-column LogSoftmax over 37 classes (CTC); --seq picks the columns (width 4*(seq+1), default 24: 100 px), --layers the depth";
        Zoo.add("crnn", crnn, "image: f32[batch,1,32,100]", "log_probs: f32[batch,24,37]",
                new ModelCard.Reference(7_270_949, OptionalLong.of(658_544_640L), "counted analytically from the layer table (no published figures for this hybrid)"),
                Zoo.Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Crnn.build(n, Crnn.CRNN, o));
        Zoo.add("crnn-tiny", "CRNN structure at width/8, 1 encoder layer (hidden 32, 2 heads), 7 columns (width 32)",
                "image: f32[batch,1,32,32]", "log_probs: f32[batch,7,37]", null,
                Zoo.Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Crnn.build(n, Crnn.CRNN_TINY, o));

        String crnnLstm = "CRNN as Shi et al. wrote it: the same 7-conv feature extractor, then the paper's two bidirectional LSTMs "
                + "(256 units, ONNX LSTM ops, sequence-first as PyTorch exports them), each followed by a linear layer (to 256, then to the 37 classes), "
                + "per-column LogSoftmax (CTC); --seq picks the columns (width 4*(seq+1), default 24: 100 px), --layers the number of BiLSTMs";
        Zoo.add("crnn-lstm", crnnLstm, "image: f32[batch,1,32,100]", "log_probs: f32[batch,24,37]",
                new ModelCard.Reference(8_330_021, OptionalLong.of(683_347_968L), "Shi et al. 2015: 8.3 M parameters; exact count from crnn.pytorch's layer table "
                        + "with the batch-normalized convolutions bias-free (8,331,301 there); multiply-adds counted analytically"),
                Zoo.Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Crnn.buildLstm(n, Crnn.CRNN_LSTM, o));
        Zoo.add("crnn-lstm-tiny", "CRNN-LSTM structure at width/8, two bidirectional LSTMs of 32 units, 7 columns (width 32)",
                "image: f32[batch,1,32,32]", "log_probs: f32[batch,7,37]", null,
                Zoo.Knobs.SEQUENCE_AND_LAYERS, (n, o) -> Crnn.buildLstm(n, Crnn.CRNN_LSTM_TINY, o));

        String ssd = "SSDLite-MobileNetV2 (TF ssdlite_mobilenet_v2_coco): MobileNetV2 backbone, 6 feature maps (19x19 expansion tap, "
                + "10x10 and 4 extra layers), depthwise-separable box and class predictors, 1917 anchors, Sigmoid scores, "
                + "boxes decoded in the graph (NMS follows on the host; ssdlite-nms has it in the graph)";
        Zoo.add("ssdlite", ssd, "image: f32[batch,3,300,300]", "boxes: f32[batch,1917,4], scores: f32[batch,1917,91]",
                new ModelCard.Reference(4_300_000, OptionalLong.of(800_000_000L), "Sandler et al. 2018, Table 6: SSDLite 4.3 M params, 0.8 B MAdds"),
                Zoo.Knobs.NONE, (n, o) -> SsdLite.build(n, SsdLite.SSDLITE, o, false));
        Zoo.add("ssdlite-tiny", "SSDLite structure on MobileNetV2 at width 0.25 (one block per stage), extras at width/4, 64x64 input, 11 classes, 96 anchors",
                "image: f32[batch,3,64,64]", "boxes: f32[batch,96,4], scores: f32[batch,96,11]", null,
                Zoo.Knobs.NONE, (n, o) -> SsdLite.build(n, SsdLite.SSDLITE_TINY, o, false));
        String nms = "ending in TensorRT's EfficientNMS_TRT (torchvision ssdlite320's post-processing values: score > 0.001, IoU 0.55, "
                + "300 detections, background class 0 dropped)";
        String detections = "num_detections: i32[batch,1], detection_boxes: f32[batch,300,4], detection_scores: f32[batch,300], detection_classes: i32[batch,300]";
        Zoo.add("ssdlite-nms", "SSDLite-MobileNetV2 as ssdlite, " + nms, "image: f32[batch,3,300,300]", detections,
                new ModelCard.Reference(4_300_000, OptionalLong.of(800_000_000L), "Sandler et al. 2018, Table 6: SSDLite 4.3 M params, 0.8 B MAdds"),
                Zoo.Knobs.NONE, (n, o) -> SsdLite.build(n, SsdLite.SSDLITE, o, true));
        Zoo.add("ssdlite-nms-tiny", "ssdlite-tiny " + nms, "image: f32[batch,3,64,64]", detections, null,
                Zoo.Knobs.NONE, (n, o) -> SsdLite.build(n, SsdLite.SSDLITE_TINY, o, true));
    }
}

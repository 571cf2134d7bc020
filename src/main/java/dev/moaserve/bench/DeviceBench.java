package dev.moaserve.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.IncrementalDecoder;
import dev.moaserve.model.DeviceChoice;
import dev.moaserve.model.Djl;
import dev.moaserve.model.Init;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaModel;
import dev.moaserve.model.MoaWeights;

import java.io.PrintStream;
import java.util.Locale;

/**
 * {@code bench --device cuda [--dtype float16] [--batches 1,8,64]}: decode throughput of the
 * embedded model and (on a GPU) of a d512 model (random weights) with weights, state and every
 * step on one device, one machine-readable line per point:
 * {@code device_decode config=… device=… dtype=… batch=… tokens_per_s=… ms_per_step=…}.
 * The GPU check kit (gpu/check.sh) reads these lines.
 */
final class DeviceBench {
    private DeviceBench() {}

    static void run(PrintStream out, Device device, DataType dtype, int[] batches, boolean quick) {
        out.printf(Locale.ROOT, "device decode benchmark on %s, %s%n", DeviceChoice.describe(device),
                dtype.name().toLowerCase(Locale.ROOT));
        try (MoaModel embedded = MoaModel.loadEmbedded(device)) {
            sweep(out, "moa-shakespeare", embedded.weights(), device, dtype, batches, quick);
        }
        if (!device.isGpu()) {
            return; // on the CPU, the full bench covers d512 (and a d512 batch of 64 takes minutes per point)
        }
        ModelConfig d512 = ModelConfig.builder().vocab(256).dim(512).depth(8).seqLen(4096 + 512).localWindow(64)
                .routedWindow(64).routedQueries(32).routedKeyValues(64).experts(2).dimHead(64).heads(8).ffMult(4).build();
        try (NDManager m = Djl.newManager(device)) {
            sweep(out, "d512-L8-w64", Init.random(d512, m, 1), device, dtype, batches, quick);
        }
    }

    private static void sweep(PrintStream out, String name, MoaWeights w, Device device, DataType dtype, int[] batches,
                              boolean quick) {
        int steps = quick ? 24 : 96;
        BenchCommand.decodePoint(w, batches[0], 8, IncrementalDecoder.Recompute.LAZY, true, dtype); // warm-up
        for (int b : batches) {
            BenchCommand.Point p = null;
            for (int round = 0; round < 2; round++) {
                p = BenchCommand.Point.best(p, BenchCommand.decodePoint(w, b, steps, IncrementalDecoder.Recompute.LAZY, true, dtype));
            }
            out.printf(Locale.ROOT, "device_decode config=%s device=%s dtype=%s batch=%d tokens_per_s=%.1f ms_per_step=%.3f%n",
                    name, device, dtype.name().toLowerCase(Locale.ROOT), b, p.tokensPerS(), p.ms());
        }
    }
}

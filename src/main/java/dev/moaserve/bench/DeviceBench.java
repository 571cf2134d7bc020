package dev.moaserve.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moaserve.decode.DecodeState;
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
 * {@code device_decode config=… device=… dtype=… batch=… tokens_per_s=… ms_per_step=… gflops=…
 * syncs_per_step=… transfers_per_step=…} (syncs: the step waited on the device mid-step to read a
 * value back; transfers: host↔device copies), then the embedded model's prefill of a 1,000-token
 * prompt as the server runs it (whole windows at once, the rest through a step):
 * {@code device_prefill config=… tokens=1000 ms=… tokens_per_s=…}.
 * The GPU check kit (gpu/check.sh) reads these lines.
 */
final class DeviceBench {
    private DeviceBench() {}

    static void run(PrintStream out, Device device, DataType dtype, int[] batches, boolean quick) {
        out.printf(Locale.ROOT, "device decode benchmark on %s, %s%n", DeviceChoice.describe(device),
                dtype.name().toLowerCase(Locale.ROOT));
        try (MoaModel embedded = MoaModel.loadEmbedded(device)) {
            sweep(out, "moa-shakespeare", embedded.weights(), device, dtype, batches, quick);
            prefill(out, "moa-shakespeare", embedded.weights(), device, dtype, 1000);
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
        DecodePoints.measure(w, batches[0], 8, IncrementalDecoder.Recompute.LAZY, true, dtype); // warm-up
        for (int b : batches) {
            DecodePoints.Point p = null;
            for (int round = 0; round < 2; round++) {
                p = DecodePoints.Point.best(p, DecodePoints.measure(w, b, steps, IncrementalDecoder.Recompute.LAZY, true, dtype));
            }
            out.printf(Locale.ROOT, "device_decode config=%s device=%s dtype=%s batch=%d tokens_per_s=%.1f ms_per_step=%.3f "
                            + "gflops=%.2f syncs_per_step=%.2f transfers_per_step=%.2f%n",
                    name, device, dtype.name().toLowerCase(Locale.ROOT), b, p.tokensPerS(), p.ms(),
                    p.flopsPerStep() / p.ms() / 1e6, p.syncs(), p.transfers());
        }
    }

    /** A fresh prompt of {@code n} tokens to its first logits, as the server feeds it; best of 3 after a warm-up. */
    private static void prefill(PrintStream out, String name, MoaWeights w, Device device, DataType dtype, int n) {
        int win = w.config().routedWindowSize();
        long[] prompt = new long[n];
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 0; i < n; i++) {
            prompt[i] = rnd.nextInt(w.config().numTokens());
        }
        int whole = (n - 1) / win * win;
        try (IncrementalDecoder dec = new IncrementalDecoder(w, 1, IncrementalDecoder.Recompute.LAZY, dtype)) {
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < 4; rep++) {
                long t0 = System.nanoTime();
                try (DecodeState s = dec.newState()) {
                    dec.prefillWindows(s, java.util.Arrays.copyOf(prompt, whole));
                    dec.prefill(s, java.util.Arrays.copyOfRange(prompt, whole, n)); // logits to the host: the device has finished
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                best = rep == 0 ? best : Math.min(best, secs);
            }
            out.printf(Locale.ROOT, "device_prefill config=%s device=%s dtype=%s tokens=%d ms=%.2f tokens_per_s=%.0f%n",
                    name, device, dtype.name().toLowerCase(Locale.ROOT), n, best * 1e3, n / best);
        }
    }
}

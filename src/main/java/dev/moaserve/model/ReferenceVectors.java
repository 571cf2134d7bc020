package dev.moaserve.model;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reference outputs of the PyTorch model ({@code vectors.safetensors}): {@code tokens} [B,N],
 * {@code logits} [B,N,V], {@code hidden.<l>} [B,N,D], {@code prompt} [P], {@code greedy} [G],
 * {@code greedy_logits} [G,V].
 */
public record ReferenceVectors(long[][] tokens, float[] logits, List<float[]> hidden,
                               long[] prompt, long[] greedy, float[] greedyLogits) {

    public static ReferenceVectors load(Path file) {
        Safetensors st = Safetensors.open(file);
        Safetensors.Entry t = st.entry("tokens");
        if (t.shape().length != 2) {
            throw new ModelException(file + ": 'tokens' must be [B, N]");
        }
        int b = (int) t.shape()[0], n = (int) t.shape()[1];
        long[] flat = st.longs("tokens");
        long[][] tokens = new long[b][n];
        for (int i = 0; i < b; i++) {
            System.arraycopy(flat, i * n, tokens[i], 0, n);
        }
        List<float[]> hidden = new ArrayList<>();
        for (int l = 0; st.entries().containsKey("hidden." + l); l++) {
            hidden.add(array(st.floats("hidden." + l)));
        }
        return new ReferenceVectors(tokens, array(st.floats("logits")), hidden,
                st.longs("prompt"), st.longs("greedy"), array(st.floats("greedy_logits")));
    }

    private static float[] array(FloatBuffer fb) {
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }
}

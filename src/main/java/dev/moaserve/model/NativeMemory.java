package dev.moaserve.model;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import org.jboss.logging.Logger;

/**
 * Gives the C heap's free pages back to the operating system after a large piece of work.
 * libtorch's CPU tensors come from glibc's malloc; after a burst of large forwards its arenas keep
 * the freed memory (measured: about 700 MB of resident memory stayed after one 100,000-token
 * embeddings request), which a container's memory limit counts. glibc's {@code malloc_trim(0)}
 * returns it. Elsewhere (musl, macOS, a native image without JNA) this does nothing.
 */
public final class NativeMemory {
    private static final Logger LOG = Logger.getLogger(NativeMemory.class);
    private static final Function MALLOC_TRIM = find();

    private NativeMemory() {}

    private static Function find() {
        try {
            return Platform.isLinux() ? NativeLibrary.getInstance("c").getFunction("malloc_trim") : null;
        } catch (Throwable unavailable) { // no glibc, or no JNA in this image
            LOG.debugf("malloc_trim is not available: %s", unavailable.toString());
            return null;
        }
    }

    /**
     * After a model's arrays are closed: the direct buffers that held its weights on their way to
     * libtorch are freed only once the objects that own them are collected (measured: an unloaded
     * encoder's 5.5 MB of weights stayed in the JVM's "Other" memory on every load, as no collection
     * came), so collect them, then give the C heap's free pages back. For rare events (a model
     * unloads), never per request.
     */
    public static void release() {
        System.gc();
        trim();
    }

    /** {@code malloc_trim(0)}: true if memory was returned. Takes milliseconds; call it after large work, not per step. */
    public static boolean trim() {
        if (MALLOC_TRIM == null) {
            return false;
        }
        try {
            return MALLOC_TRIM.invokeInt(new Object[] {0}) == 1;
        } catch (Throwable e) {
            return false;
        }
    }
}

package dev.moaserve.decode;

/** The decode-state pool did not fit in the device's memory. */
public final class PoolAllocationException extends IllegalStateException {
    PoolAllocationException(int slots, long bytesPerSlot, ai.djl.Device device, Throwable cause) {
        super(String.format(java.util.Locale.ROOT, "cannot allocate the decode-state pool on %s: %d slots × %d bytes = %.1f MB (%s)",
                device, slots, bytesPerSlot, slots * (double) bytesPerSlot / 1e6, firstLine(cause.getMessage())), cause);
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}

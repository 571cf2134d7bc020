package dev.moaserve.bench;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * The load generator's HTTP client: a POST over a plain socket (HTTP/1.1, one connection per
 * request), its response body handed over line by line as it arrives, chunked or not. The JDK's
 * HttpClient cost loadgen about 0.16 ms of CPU per streamed token (selector thread, flow control,
 * buffers per chunk); on the 2 cores it shares with the server that CPU is the server's, so the
 * load generator reads the stream with as little work as a line needs.
 */
final class LoopbackSse {
    /** A response's status and, when it is not 200, its body (a 200's body went to the line handler). */
    record Response(int status, String errorBody) {}

    private LoopbackSse() {}

    /** GETs {@code uri} over a plain socket (one connection, closed after): the response's status. */
    static int get(URI uri) throws IOException {
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        String head = "GET " + uri.getRawPath() + " HTTP/1.1\r\nHost: " + uri.getHost() + ":" + port + "\r\nConnection: close\r\n\r\n";
        try (Socket s = new Socket()) {
            // bounded both ways: a poll of a server that is not up yet must return to poll again
            s.connect(new java.net.InetSocketAddress(uri.getHost(), port), 2_000);
            s.setTcpNoDelay(true);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return status(new Lines(new Buffered(s.getInputStream())));
        }
    }

    /** The status code of the response whose status line {@code in} reads next. */
    private static int status(Lines in) throws IOException {
        String status = in.next();
        if (status == null || !status.startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP response: " + status);
        }
        return Integer.parseInt(status.substring(9, 12));
    }

    /**
     * POSTs {@code json} to {@code uri} and hands each line of a 200 response's body to {@code
     * line} (without its line end) until the body ends or {@code line} returns false.
     */
    static Response post(URI uri, String json, Predicate<String> line) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        String head = "POST " + uri.getRawPath() + " HTTP/1.1\r\nHost: " + uri.getHost() + ":" + port
                + "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " + body.length
                + "\r\nConnection: close\r\n\r\n";
        try (Socket s = new Socket(uri.getHost(), port)) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(600_000);
            OutputStream out = s.getOutputStream();
            byte[] h = head.getBytes(StandardCharsets.US_ASCII);
            byte[] request = new byte[h.length + body.length];
            System.arraycopy(h, 0, request, 0, h.length);
            System.arraycopy(body, 0, request, h.length, body.length);
            out.write(request);
            out.flush();
            Lines in = new Lines(new Buffered(s.getInputStream()));
            int code = status(in);
            boolean chunked = false;
            long length = -1;
            String header;
            while ((header = in.next()) != null && !header.isEmpty()) {
                String lower = header.toLowerCase(Locale.ROOT);
                if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                    chunked = true;
                } else if (lower.startsWith("content-length:")) {
                    length = Long.parseLong(lower.substring(15).trim());
                }
            }
            Lines bodyLines = new Lines(chunked ? new Chunked(in.raw) : length >= 0 ? new Limited(in.raw, length) : in.raw);
            if (code != 200) {
                StringBuilder all = new StringBuilder();
                for (String l; (l = bodyLines.next()) != null; ) {
                    all.append(l).append('\n');
                }
                return new Response(code, all.toString());
            }
            for (String l; (l = bodyLines.next()) != null; ) {
                if (!line.test(l)) {
                    break;
                }
            }
            return new Response(code, null);
        }
    }

    /** Lines of a byte stream, UTF-8, without their {@code \n} or {@code \r\n}; null at its end. */
    private static final class Lines {
        final InputStream raw;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream(256);

        Lines(InputStream raw) {
            this.raw = raw;
        }

        String next() throws IOException {
            buf.reset();
            int b;
            while ((b = raw.read()) >= 0 && b != '\n') {
                buf.write(b);
            }
            if (b < 0 && buf.size() == 0) {
                return null;
            }
            byte[] bytes = buf.toByteArray();
            int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
            return new String(bytes, 0, n, StandardCharsets.UTF_8);
        }
    }

    /** A chunked transfer-coded body, de-chunked; ends at the zero-size chunk. */
    private static final class Chunked extends InputStream {
        private final InputStream in;
        private long left;     // bytes left in the current chunk
        private boolean done;

        Chunked(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            if (done) {
                return -1;
            }
            if (left == 0) {
                if (!nextChunk()) {
                    return -1;
                }
            }
            int b = in.read();
            if (b < 0) {
                throw new EOFException("the connection closed inside a chunk");
            }
            left--;
            if (left == 0) {
                crlf();
            }
            return b;
        }

        private boolean nextChunk() throws IOException {
            StringBuilder size = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                if (b != '\r') {
                    size.append((char) b);
                }
            }
            if (b < 0) {
                done = true;
                return false;
            }
            int semi = size.indexOf(";");
            left = Long.parseLong((semi >= 0 ? size.substring(0, semi) : size.toString()).trim(), 16);
            if (left == 0) {
                done = true;
                return false;
            }
            return true;
        }

        private void crlf() throws IOException {
            int b = in.read();
            if (b == '\r') {
                in.read();
            }
        }
    }

    /** A socket's bytes through a buffer, read a byte at a time without a lock (BufferedInputStream takes one per byte). */
    private static final class Buffered extends InputStream {
        private final InputStream in;
        private final byte[] buf = new byte[1 << 16];
        private int pos;
        private int limit;

        Buffered(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            if (pos == limit) {
                limit = in.read(buf, 0, buf.length);
                pos = 0;
                if (limit <= 0) {
                    limit = 0;
                    return -1;
                }
            }
            return buf[pos++] & 0xff;
        }
    }

    /** The first {@code length} bytes of a stream. */
    private static final class Limited extends InputStream {
        private final InputStream in;
        private long left;

        Limited(InputStream in, long length) {
            this.in = in;
            this.left = length;
        }

        @Override
        public int read() throws IOException {
            if (left <= 0) {
                return -1;
            }
            left--;
            return in.read();
        }
    }
}

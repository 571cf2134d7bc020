package dev.moaserve.api.protocol;

/** An error a client caused (or must see), rendered as OpenAI error JSON with its status. */
public class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String message, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    public static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", message, param, null);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}

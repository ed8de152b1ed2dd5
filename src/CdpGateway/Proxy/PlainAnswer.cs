using Microsoft.AspNetCore.Http;

namespace CdpGateway.Proxy;

/// <summary>A status code with a one-line message that names the problem.</summary>
public static class PlainAnswer
{
    public static Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        // Messages may quote a request's header; no browser may read them as anything but text.
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return context.Response.WriteAsync(message + "\n");
    }
}

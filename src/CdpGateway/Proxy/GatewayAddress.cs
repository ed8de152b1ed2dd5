using CdpGateway.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Proxy;

/// <summary>
/// The gateway as the client addressed it: the Host it used (or X-Forwarded-Host/-Proto when the
/// operator trusts them), and the token to carry on when the client authenticated with <c>?token=</c>.
/// </summary>
public sealed record GatewayAddress(string Scheme, string Authority, string? Token)
{
    public static GatewayAddress Of(HttpContext context)
    {
        var request = context.Request;
        var services = context.RequestServices;
        var options = services.GetRequiredService<GatewayOptions>();
        var authority = request.Host.HasValue ? request.Host.Value! : $"{context.Connection.LocalIpAddress}:{context.Connection.LocalPort}";
        var secure = request.IsHttps;
        if (options.TrustForwardedHeaders)
        {
            var forwardedHost = FirstValue(request.Headers["X-Forwarded-Host"].ToString());
            if (forwardedHost.Length > 0)
            {
                authority = forwardedHost;
            }
            var forwardedProto = FirstValue(request.Headers["X-Forwarded-Proto"].ToString());
            if (forwardedProto.Length > 0)
            {
                secure = forwardedProto.Equals("https", StringComparison.OrdinalIgnoreCase) || forwardedProto.Equals("wss", StringComparison.OrdinalIgnoreCase);
            }
        }
        var token = services.GetRequiredService<AccessControl>().UsedQueryToken(request) ? options.Token : null;
        return new GatewayAddress(secure ? "wss" : "ws", authority, token);
    }

    /// <summary>The path with <c>?token=</c> appended when the client authenticated that way.</summary>
    public string WithToken(string path) => Token is null ? path : $"{path}?token={Uri.EscapeDataString(Token)}";

    private static string FirstValue(string header)
    {
        var comma = header.IndexOf(',');
        return (comma < 0 ? header : header[..comma]).Trim();
    }
}

using System.Text.Json;
using CdpGateway.Browser;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace CdpGateway.Api;

/// <summary>
/// The Chromium control API (SPEC §5): <c>GET /chromium</c>, <c>POST /chromium/restart</c>,
/// <c>GET|PATCH|PUT /chromium/flags</c>. A restart answers once the new browser is ready: 200 with its URL
/// and the elapsed time (in launch mode split into its phases), 504 with the Chromium state after 90 s, 409 when this mode cannot restart.
/// A body that is not <c>{"flags":[...]}</c> of <c>--flags</c> is 400 with a message naming what is wrong.
/// </summary>
public static class ChromiumEndpoints
{
    /// <summary>A flags body larger than this is refused: flags are short.</summary>
    private const int MaxBodyBytes = 1024 * 1024;

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/chromium", (IChromiumControl chromium) =>
            Results.Json(chromium.Status, ApiJsonContext.Default.ChromiumStatus));

        api.MapPost("/chromium/restart", (IChromiumControl chromium, IHostApplicationLifetime lifetime, HttpContext context) =>
            RunAsync(ct => chromium.RestartAsync(ct), context, lifetime));

        api.MapGet("/chromium/flags", (IChromiumControl chromium) =>
            Results.Json(new FlagsAnswer { Flags = chromium.Flags, CommandLine = chromium.Status.CommandLine }, ApiJsonContext.Default.FlagsAnswer));

        api.MapMethods("/chromium/flags", ["PATCH"], (IChromiumControl chromium, IHostApplicationLifetime lifetime, HttpContext context) =>
            ChangeFlagsAsync(chromium, replace: false, context, lifetime));

        api.MapPut("/chromium/flags", (IChromiumControl chromium, IHostApplicationLifetime lifetime, HttpContext context) =>
            ChangeFlagsAsync(chromium, replace: true, context, lifetime));
    }

    private static async Task<IResult> ChangeFlagsAsync(IChromiumControl chromium, bool replace, HttpContext context, IHostApplicationLifetime lifetime)
    {
        var (flags, error) = await ReadFlagsAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (flags is null)
        {
            return Error(StatusCodes.Status400BadRequest, error!);
        }
        return await RunAsync(ct => chromium.ChangeFlagsAsync(flags, replace, ct), context, lifetime).ConfigureAwait(false);
    }

    private static async Task<(IReadOnlyList<string>? Flags, string? Error)> ReadFlagsAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return (null, $"the body is over {MaxBodyBytes} bytes");
        }
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            body.Write(buffer, 0, read);
            if (body.Length > MaxBodyBytes)
            {
                return (null, $"the body is over {MaxBodyBytes} bytes");
            }
        }
        if (body.Length == 0)
        {
            return (null, "the body is empty; expected {\"flags\":[\"--flag\",\"--name=value\"]}");
        }
        try
        {
            using var doc = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
            var flags = RuntimeFlags.Parse(doc.RootElement, out var error);
            return (flags, error);
        }
        catch (JsonException e)
        {
            return (null, $"the body is not valid JSON ({e.Message}); expected {{\"flags\":[\"--flag\",\"--name=value\"]}}");
        }
    }

    /// <summary>Runs a restart and turns its outcome into the documented answers.</summary>
    private static async Task<IResult> RunAsync(Func<CancellationToken, Task<ChromiumRestartResult>> restart, HttpContext context, IHostApplicationLifetime lifetime)
    {
        // A restart ends with the request or with the gateway (shutdown must not wait 90 s for it).
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            var result = await restart(cancellation.Token).ConfigureAwait(false);
            return Results.Json(new RestartAnswer
            {
                DevToolsUrl = result.DevToolsUrl,
                Generation = result.Generation,
                ElapsedMs = Math.Round(result.Elapsed.TotalMilliseconds, 1),
                Restarted = result.Restarted,
                Flags = result.Flags,
                Phases = RestartPhasesAnswer.From(result.Phases),
            }, ApiJsonContext.Default.RestartAnswer);
        }
        catch (ChromiumControlUnavailableException e)
        {
            return Error(StatusCodes.Status409Conflict, e.Message);
        }
        catch (ChromiumNotReadyException e)
        {
            return Results.Json(new ApiError { Error = e.Message, Chromium = e.Status }, ApiJsonContext.Default.ApiError,
                statusCode: StatusCodes.Status504GatewayTimeout);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Error(StatusCodes.Status500InternalServerError, $"could not persist the flags: {e.Message}");
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return lifetime.ApplicationStopping.IsCancellationRequested || e is ObjectDisposedException
                ? Error(StatusCodes.Status503ServiceUnavailable, "the gateway is shutting down")
                : Error(499, "the request was cancelled");
        }
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError { Error = message }, ApiJsonContext.Default.ApiError, statusCode: status);
}

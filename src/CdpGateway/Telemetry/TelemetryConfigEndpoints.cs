using System.Text.Json;
using CdpGateway.Api;
using CdpGateway.Telemetry.Commands;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Telemetry;

/// <summary>
/// <c>PUT /telemetry</c> replaces the configuration (an omitted category is off, omitted exclusions are
/// none); <c>PATCH /telemetry</c> merges (only an explicit <c>enabled</c> changes a category; an omitted
/// <c>excluded_methods</c> leaves the list, <c>[]</c> clears it). Both take the <c>config</c> object
/// that <c>GET /telemetry</c> shows, or <c>GET</c>'s whole answer (its read-only <c>seq</c> and
/// <c>dropped_events</c> and <c>nats</c> are checked for their type and ignored), answer with the new status, and apply to live
/// connections at once.
/// </summary>
public static class TelemetryConfigEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPut("/telemetry", new RequestDelegate(context => ApplyAsync(context, replace: true)));
        api.MapPatch("/telemetry", new RequestDelegate(context => ApplyAsync(context, replace: false)));
    }

    internal static async Task ApplyAsync(HttpContext context, bool replace)
    {
        var config = context.RequestServices.GetRequiredService<TelemetryConfig>();
        var change = new Change(
            replace ? false : config.IsEnabled(EventCategory.Connection),
            replace ? false : config.IsEnabled(EventCategory.Control),
            replace ? false : config.IsEnabled(EventCategory.System),
            replace ? [] : [.. config.ExcludedCdpMethods]);
        var (error, bodyError) = await JsonBody.ReadAsync(context.Request, root => Read(root, change),
            "a JSON object like {\"connection\":{\"enabled\":true}}", context.RequestAborted).ConfigureAwait(false);
        if (bodyError is not null)
        {
            context.Response.StatusCode = bodyError.Status;
            var message = bodyError.Problem is JsonBodyProblem.Empty or JsonBodyProblem.NotJson
                ? $"the body is not JSON: {bodyError.Detail}"
                : bodyError.Message;
            await context.Response.WriteAsJsonAsync(new TelemetryError(message), TelemetryJsonContext.Default.TelemetryError,
                contentType: null, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (error is not null)
        {
            await TelemetryEndpoints.WriteBadRequestAsync(context, error).ConfigureAwait(false);
            return;
        }
        config.SetExcludedCdpMethods(change.Excluded);
        config.SetEnabled(EventCategory.Connection, change.Connection);
        config.SetEnabled(EventCategory.Control, change.Control);
        config.SetEnabled(EventCategory.System, change.System);
        var status = TelemetryStatus.Capture(config, context.RequestServices.GetRequiredService<EventStream>(), context.RequestServices.GetService<Nats.NatsEventSink>());
        await context.Response.WriteAsJsonAsync(status, TelemetryJsonContext.Default.TelemetryStatus, contentType: null, context.RequestAborted).ConfigureAwait(false);
    }

    private sealed class Change(bool connection, bool control, bool system, List<string> excluded)
    {
        public bool Connection = connection;
        public bool Control = control;
        public bool System = system;
        public List<string> Excluded = excluded;
    }

    /// <summary>The read-only members of <c>GET /telemetry</c>'s answer, which a body may carry back and which change nothing.</summary>
    private static readonly string[] StatusCounters = ["seq", "dropped_events"];

    /// <summary>Reads the body into <paramref name="change"/>; returns an error naming the problem, or null.</summary>
    private static string? Read(JsonElement root, Change change)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "the body must be a JSON object like {\"connection\":{\"enabled\":true}}";
        }
        foreach (var member in root.EnumerateObject())
        {
            if (member.Name == "config" || StatusCounters.Contains(member.Name))
            {
                return ReadStatus(root, change);
            }
        }
        return ReadConfig(root, change, prefix: "");
    }

    /// <summary>
    /// <c>GET /telemetry</c>'s answer sent back: its <c>config</c> is read as a config object, its counters must be what
    /// GET shows (whole numbers, 0 or more) and are ignored, and anything else is refused by name.
    /// </summary>
    private static string? ReadStatus(JsonElement status, Change change)
    {
        JsonElement? config = null;
        foreach (var member in status.EnumerateObject())
        {
            if (member.Name == "config")
            {
                config = member.Value;
            }
            else if (member.Name == "nats")
            {
                // The NATS sink's state, read-only like the counters: whatever GET showed (an object, or null) is ignored.
                if (member.Value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                {
                    return "nats is read-only and ignored, but must be an object or null as GET /telemetry shows it";
                }
            }
            else if (StatusCounters.Contains(member.Name))
            {
                if (member.Value.ValueKind != JsonValueKind.Number || !member.Value.TryGetInt64(out var count) || count < 0)
                {
                    return $"{member.Name} is read-only and ignored, but must be a whole number (0 or more) as GET /telemetry shows it";
                }
            }
            else
            {
                return $"unknown field '{member.Name}' (a body is a config object, or GET /telemetry's answer: config, seq, dropped_events, nats)";
            }
        }
        if (config is not { } found)
        {
            return "config is missing: a body with GET /telemetry's seq or dropped_events needs its config too";
        }
        if (found.ValueKind != JsonValueKind.Object)
        {
            return "config must be an object";
        }
        return ReadConfig(found, change, prefix: "config.");
    }

    /// <param name="prefix">What the error messages put before a field's name: <c>config.</c> inside GET's answer.</param>
    private static string? ReadConfig(JsonElement config, Change change, string prefix)
    {
        foreach (var category in config.EnumerateObject())
        {
            if (category.Value.ValueKind != JsonValueKind.Object)
            {
                return $"{prefix}{category.Name} must be an object";
            }
            switch (category.Name)
            {
                case EventCategory.Connection:
                    if (ReadSimple(category, ref change.Connection, prefix) is { } connectionError)
                    {
                        return connectionError;
                    }
                    break;
                case EventCategory.System:
                    if (ReadSimple(category, ref change.System, prefix) is { } systemError)
                    {
                        return systemError;
                    }
                    break;
                case EventCategory.Control:
                    if (ReadControl(category.Value, change, prefix) is { } controlError)
                    {
                        return controlError;
                    }
                    break;
                default:
                    return $"unknown telemetry category '{prefix}{category.Name}' (known: {string.Join(", ", EventCategory.All)})";
            }
        }
        return null;
    }

    private static string? ReadSimple(JsonProperty category, ref bool enabled, string prefix)
    {
        foreach (var field in category.Value.EnumerateObject())
        {
            if (field.Name != "enabled")
            {
                return $"unknown field '{prefix}{category.Name}.{field.Name}'";
            }
            if (ReadBool(field) is not { } value)
            {
                return $"{prefix}{category.Name}.enabled must be true or false";
            }
            enabled = value;
        }
        return null;
    }

    private static string? ReadControl(JsonElement control, Change change, string prefix)
    {
        foreach (var field in control.EnumerateObject())
        {
            switch (field.Name)
            {
                case "enabled":
                    if (ReadBool(field) is not { } value)
                    {
                        return $"{prefix}control.enabled must be true or false";
                    }
                    change.Control = value;
                    break;
                case "cdp":
                    if (field.Value.ValueKind != JsonValueKind.Object)
                    {
                        return $"{prefix}control.cdp must be an object";
                    }
                    foreach (var cdpField in field.Value.EnumerateObject())
                    {
                        if (cdpField.Name != "excluded_methods")
                        {
                            return $"unknown field '{prefix}control.cdp.{cdpField.Name}'";
                        }
                        if (ReadMethods(cdpField.Value, out var methods, prefix) is { } error)
                        {
                            return error;
                        }
                        change.Excluded = methods;
                    }
                    break;
                default:
                    return $"unknown field '{prefix}control.{field.Name}'";
            }
        }
        return null;
    }

    private static string? ReadMethods(JsonElement list, out List<string> methods, string prefix)
    {
        methods = [];
        if (list.ValueKind != JsonValueKind.Array)
        {
            return $"{prefix}control.cdp.excluded_methods must be an array of method names";
        }
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !CdpMethods.TryParse(item.GetString()!, out var method))
            {
                return $"{prefix}control.cdp.excluded_methods: {item.GetRawText()} is not a reported CDP method (see cdp_command in the README)";
            }
            if (!methods.Contains(method.Name()))
            {
                methods.Add(method.Name());
            }
        }
        return null;
    }

    private static bool? ReadBool(JsonProperty field) => field.Value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}

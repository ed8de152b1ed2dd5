using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Tests.Fuzz;

public class TelemetryConfigProperties
{
    /// <summary>A configuration as the tests hold it: the three switches and the excluded methods, as a set.</summary>
    internal sealed record Settings(bool Connection, bool Control, bool System, string[] Excluded)
    {
        public static Settings Of(TelemetryConfig config) => new(config.IsEnabled(EventCategory.Connection), config.IsEnabled(EventCategory.Control),
            config.IsEnabled(EventCategory.System), [.. config.ExcludedCdpMethods.Order(StringComparer.Ordinal)]);

        public static Settings Of(TelemetryConfigDocument document) => new(document.Connection.Enabled, document.Control.Enabled,
            document.System.Enabled, [.. document.Control.Cdp.ExcludedMethods.Order(StringComparer.Ordinal)]);

        public TelemetryConfig ToConfig()
        {
            var config = new TelemetryConfig();
            config.SetEnabled(EventCategory.Connection, Connection);
            config.SetEnabled(EventCategory.Control, Control);
            config.SetEnabled(EventCategory.System, System);
            config.SetExcludedCdpMethods(Excluded);
            return config;
        }

        public bool Same(Settings other) =>
            (Connection, Control, System) == (other.Connection, other.Control, other.System) && Excluded.SequenceEqual(other.Excluded);
    }

    private static readonly string[] MethodNames = [.. CdpMethods.All.Select(m => m.Name())];

    private static readonly Gen<Settings> AnySettings =
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[0, MethodNames.Length - 1].Array[0, 6])
            .Select((connection, control, system, methods) =>
                new Settings(connection, control, system, [.. methods.Select(i => MethodNames[i]).Distinct().Order(StringComparer.Ordinal)]));

    /// <summary>
    /// PUT (<paramref name="replace"/>) or PATCH of <paramref name="body"/> through the endpoint's own handler, on a
    /// configuration that starts as <paramref name="before"/>: the status, the error named (on a 4xx), the configuration
    /// after, and the one the answer shows (on a 200).
    /// </summary>
    private static (int Status, string? Error, Settings After, Settings? Shown) Apply(Settings before, byte[] body, bool replace)
    {
        var config = before.ToConfig();
        using var services = new ServiceCollection()
            .AddSingleton(config)
            .AddSingleton(new EventStream(TimeProvider.System, config, capacity: 1))
            .BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = replace ? "PUT" : "PATCH";
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = body.Length;
        var answer = new MemoryStream();
        context.Response.Body = answer;

        // Everything is in memory: the handler is done when it returns. Wait rethrows what it threw.
        Assert.True(TelemetryConfigEndpoints.ApplyAsync(context, replace).Wait(TimeSpan.FromSeconds(10)));

        using var shown = JsonDocument.Parse(answer.ToArray());
        var status = context.Response.StatusCode;
        if (status == StatusCodes.Status200OK)
        {
            var document = shown.RootElement.GetProperty("config").Deserialize(TelemetryJsonContext.Default.TelemetryConfigDocument)!;
            return (status, null, Settings.Of(config), Settings.Of(document));
        }
        var error = shown.RootElement.GetProperty("error").GetString();
        Assert.False(string.IsNullOrWhiteSpace(error));
        return (status, error, Settings.Of(config), null);
    }

    /// <summary>
    /// Bodies of the shape the endpoint takes, with wrong types, unknown names, huge numbers, deep nesting and broken
    /// text mixed in, built together with what the endpoint must make of them (written apart from the product): the
    /// configuration, or a piece of the error it must name.
    /// </summary>
    private sealed class Body(int[] draws)
    {
        private int _next;

        private int Next(int count) => draws.Length == 0 ? 0 : draws[_next++ % draws.Length] % count;

        private static readonly string[] NotBooleans = ["\"true\"", "1", "0", "null", "[]", "{}", "[true]", "1e400", "-0", "123456789012345678901234567890"];

        private static readonly string[] NotObjects = ["\"{}\"", "1", "null", "[]", "[{}]", "true", "1e400", "-123456789012345678901234567890"];

        private static readonly string[] NotMethods = ["\"Runtime.evaluate\"", "\"page.navigate\"", "\"\"", "1", "null", "[]", "{}", "\"Page.navigate \""];

        private bool _connection, _control, _system;
        private List<string> _excluded = [];
        private string? _error;

        private void Fail(string error) => _error ??= error;

        /// <summary>A name as written (now and then with an escape) and as read.</summary>
        private string Name(string name) =>
            Next(6) == 0 && name.Length > 0 ? "\"\\u" + ((int)name[0]).ToString("x4") + name[1..] + "\"" : "\"" + name + "\"";

        /// <summary>An <c>enabled</c> field, now and then of a wrong type.</summary>
        private string Enabled(string category, ref bool enabled)
        {
            if (Next(5) == 0)
            {
                Fail($"{category}.enabled must be true or false");
                return Name("enabled") + ":" + NotBooleans[Next(NotBooleans.Length)];
            }
            var value = Next(2) == 0;
            if (_error is null)
            {
                enabled = value;
            }
            return Name("enabled") + ":" + (value ? "true" : "false");
        }

        private string Switch(string category, ref bool enabled)
        {
            var fields = new List<string>();
            for (var i = Next(3); i > 0; i--)
            {
                if (Next(6) == 0)
                {
                    var unknown = new[] { "on", "Enabled", "enabled ", "x" }[Next(4)];
                    Fail($"unknown field '{category}.{unknown}'");
                    fields.Add(Name(unknown) + ":true");
                }
                else
                {
                    fields.Add(Enabled(category, ref enabled));
                }
            }
            return "{" + string.Join(",", fields) + "}";
        }

        private string Methods()
        {
            if (Next(8) == 0)
            {
                Fail("control.cdp.excluded_methods must be an array");
                var value = NotObjects[Next(NotObjects.Length)];
                return value.StartsWith('[') ? "{}" : value;
            }
            var items = new List<string>();
            var methods = new List<string>();
            for (var i = Next(5); i > 0; i--)
            {
                if (Next(8) == 0)
                {
                    var raw = NotMethods[Next(NotMethods.Length)];
                    Fail($"{raw} is not a reported CDP method");
                    items.Add(raw);
                }
                else
                {
                    var name = MethodNames[Next(MethodNames.Length)];
                    if (!methods.Contains(name))
                    {
                        methods.Add(name);
                    }
                    items.Add("\"" + name + "\"");
                }
            }
            if (_error is null)
            {
                _excluded = methods;
            }
            return "[" + string.Join(",", items) + "]";
        }

        private string Control()
        {
            var fields = new List<string>();
            for (var i = Next(3); i > 0; i--)
            {
                switch (Next(8))
                {
                    case 0:
                        var unknown = new[] { "cdp_methods", "Enabled", "network" }[Next(3)];
                        Fail($"unknown field 'control.{unknown}'");
                        fields.Add(Name(unknown) + ":{}");
                        break;
                    case 1:
                    case 2:
                    case 3:
                        fields.Add(Enabled("control", ref _control));
                        break;
                    default:
                        if (Next(8) == 0)
                        {
                            Fail("control.cdp must be an object");
                            fields.Add(Name("cdp") + ":[]");
                            break;
                        }
                        var cdp = new List<string>();
                        for (var j = Next(3); j > 0; j--)
                        {
                            if (Next(6) == 0)
                            {
                                Fail("unknown field 'control.cdp.excluded'");
                                cdp.Add(Name("excluded") + ":[]");
                            }
                            else
                            {
                                cdp.Add(Name("excluded_methods") + ":" + Methods());
                            }
                        }
                        fields.Add(Name("cdp") + ":{" + string.Join(",", cdp) + "}");
                        break;
                }
            }
            return "{" + string.Join(",", fields) + "}";
        }

        /// <summary>The body, and what must come of it from <paramref name="before"/>: the settings, or a piece of the error.</summary>
        public (byte[] Body, Settings? After, string? Error) Build(Settings before, bool replace)
        {
            (_connection, _control, _system) = replace ? (false, false, false) : (before.Connection, before.Control, before.System);
            _excluded = replace ? [] : [.. before.Excluded];
            string text;
            if (Next(12) == 0)
            {
                Fail("must be a JSON object");
                text = new[] { "[]", "1", "\"connection\"", "null", "true" }[Next(5)];
            }
            else
            {
                var members = new List<string>();
                for (var i = Next(5); i > 0; i--)
                {
                    var category = new[] { "connection", "control", "system", "connection", "control", "system", "network", "Control", "" }[Next(9)];
                    if (Next(12) == 0)
                    {
                        Fail($"{category} must be an object");
                        members.Add(Name(category) + ":" + NotObjects[Next(NotObjects.Length)]);
                        continue;
                    }
                    var settings = category switch
                    {
                        "connection" => Switch(category, ref _connection),
                        "system" => Switch(category, ref _system),
                        "control" => Control(),
                        _ => "{}",
                    };
                    if (category is not ("connection" or "system" or "control"))
                    {
                        Fail($"unknown telemetry category '{category}'");
                    }
                    members.Add(Name(category) + ":" + settings);
                }
                // Whole-body faults, found before the shape is looked at.
                switch (Next(16))
                {
                    case 0:
                        members.Insert(Next(members.Count + 1), "\"deep\":" + new string('[', 70) + new string(']', 70));
                        _error = "not JSON";
                        break;
                    case 1:
                        members.Insert(Next(members.Count + 1), "\"lone\":\"\\ud83d\"");
                        _error = "not valid Unicode";
                        break;
                }
                text = "{" + string.Join(",", members) + "}";
            }
            var bytes = Encoding.UTF8.GetBytes(text);
            if (Next(16) == 0)
            {
                var at = Next(bytes.Length + 1);
                bytes = [.. bytes[..at], 0xFF, .. bytes[at..]];
                _error = "not valid UTF-8";
            }
            return _error is { } error
                ? (bytes, null, error)
                : (bytes, new Settings(_connection, _control, _system, [.. _excluded.Order(StringComparer.Ordinal)]), null);
        }
    }

    [Fact]
    public void ABodyOfTheRightShapeGivesTheModelsConfigOrA400NamingTheFirstProblem() =>
        Gen.Select(AnySettings, Gen.Bool, Gen.Int[0, int.MaxValue].Array[1, 80]).Sample((before, replace, draws) =>
        {
            var (body, expected, named) = new Body(draws).Build(before, replace);

            var (status, error, after, shown) = Apply(before, body, replace);

            if (expected is not null)
            {
                Assert.True(status == StatusCodes.Status200OK, error);
                Assert.True(expected.Same(after), $"{after} after, {expected} expected");
                Assert.True(after.Same(shown!));
            }
            else
            {
                Assert.Equal(StatusCodes.Status400BadRequest, status);
                Assert.Contains(named!, error);
                Assert.True(before.Same(after));
            }
        }, iter: FuzzRuns.Iterations, print: t => Encoding.UTF8.GetString(new Body(t.Item3).Build(t.Item1, t.Item2).Body));

    [Fact]
    public void AnyJsonOrAlmostJsonGivesAConfigOrA400AndNeverThrows() =>
        Gen.Select(AnySettings, Gen.Bool, JsonText.Draws, Gen.Int[0, int.MaxValue].Array[0, 3]).Sample((before, replace, draws, mutation) =>
        {
            var text = Encoding.UTF8.GetBytes(new JsonText(draws).Value(0));
            var body = mutation.Length == 0 ? text : JsonText.Mutate(text, mutation);

            var (status, _, after, shown) = Apply(before, body, replace);

            Assert.True(status is StatusCodes.Status200OK or StatusCodes.Status400BadRequest, $"status {status}");
            Assert.True(status == StatusCodes.Status200OK ? after.Same(shown!) : before.Same(after));
        }, iter: FuzzRuns.Iterations);

    [Fact]
    public void TheConfigAsShownIsTakenBackByAPutUnchanged() =>
        Gen.Select(AnySettings, AnySettings).Sample((shown, other) =>
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(TelemetryConfigDocument.From(shown.ToConfig()), TelemetryJsonContext.Default.TelemetryConfigDocument);

            var (status, error, after, answered) = Apply(other, body, replace: true);

            Assert.True(status == StatusCodes.Status200OK, error);
            Assert.True(shown.Same(after), $"{after} after, {shown} shown");
            Assert.True(shown.Same(answered!));
        }, iter: FuzzRuns.FewIterations);
}

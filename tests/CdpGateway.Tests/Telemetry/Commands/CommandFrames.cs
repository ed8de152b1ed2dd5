using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CdpGateway.Telemetry.Commands;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>What became of one frame: not admitted, or admitted and then reported, malformed or ignored.</summary>
internal enum FrameOutcome
{
    NotAdmitted,
    Reported,
    Malformed,
    Ignored,
}

internal static class CommandFrames
{
    public const string ConnectionId = "c1";

    public static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    /// <summary>Admission then classification, as the observer runs them.</summary>
    public static (FrameOutcome Outcome, string? Payload) Run(byte[] frame, string connectionId = ConnectionId)
    {
        if (!CdpCommandClassifier.TryReadMethod(frame, out CdpMethod method))
        {
            return (FrameOutcome.NotAdmitted, null);
        }
        ClassifyResult result = CdpCommandClassifier.Classify(frame, method, connectionId);
        return result.Outcome switch
        {
            ClassifyOutcome.Reported => (FrameOutcome.Reported, result.Data!.ToString()),
            ClassifyOutcome.Malformed => (FrameOutcome.Malformed, null),
            _ => (FrameOutcome.Ignored, null),
        };
    }

    public static (FrameOutcome Outcome, string? Payload) Run(string json, string connectionId = ConnectionId) =>
        Run(Utf8(json), connectionId);

    /// <summary>The payload of a frame that must be reported.</summary>
    public static string Payload(string json, string connectionId = ConnectionId) => Payload(Utf8(json), connectionId);

    public static string Payload(byte[] frame, string connectionId = ConnectionId)
    {
        (FrameOutcome outcome, string? payload) = Run(frame, connectionId);
        Assert.Equal(FrameOutcome.Reported, outcome);
        return payload!;
    }

    /// <summary>
    /// A params object holding every argument of <paramref name="method"/> in the manifest, with the value
    /// <paramref name="valueFor"/> gives each (by path); containers are created along the way.
    /// </summary>
    public static JsonObject ParamsFor(CdpMethod method, Func<CdpArgument, JsonNode> valueFor)
    {
        var root = new JsonObject();
        foreach (CdpArgument argument in CdpArgumentManifest.For(method))
        {
            string[] parts = argument.Path.Split('.');
            JsonObject current = root;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                current = Container(current, parts[i]);
            }
            string leaf = parts[^1];
            JsonNode value = valueFor(argument);
            if (argument.Kind == CdpArgumentKind.ObjectArray)
            {
                // The array's elements are filled by their own entries ("touchPoints[0].x"); make sure one exists.
                if (current[leaf] is not JsonArray)
                {
                    current[leaf] = new JsonArray(new JsonObject());
                }
                continue;
            }
            current[leaf] = value;
        }
        return root;
    }

    private static JsonObject Container(JsonObject parent, string part)
    {
        bool isArray = part.EndsWith(']');
        string name = isArray ? part[..part.IndexOf('[')] : part;
        if (isArray)
        {
            if (parent[name] is not JsonArray array)
            {
                array = new JsonArray(new JsonObject());
                parent[name] = array;
            }
            if (array.Count == 0)
            {
                array.Add(new JsonObject());
            }
            return (JsonObject)array[0]!;
        }
        if (parent[name] is not JsonObject child)
        {
            child = new JsonObject();
            parent[name] = child;
        }
        return child;
    }

    public static string Command(CdpMethod method, JsonNode? parameters, long? id = 1, string? sessionId = null)
    {
        var frame = new JsonObject();
        if (id is long value)
        {
            frame["id"] = value;
        }
        if (sessionId is not null)
        {
            frame["sessionId"] = sessionId;
        }
        frame["method"] = method.Name();
        if (parameters is not null)
        {
            frame["params"] = parameters;
        }
        return frame.ToJsonString();
    }

    /// <summary>Every string value anywhere in a JSON document.</summary>
    public static IEnumerable<string> Strings(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                yield return element.GetString()!;
                break;
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    yield return property.Name;
                    foreach (string s in Strings(property.Value))
                    {
                        yield return s;
                    }
                }
                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray())
                {
                    foreach (string s in Strings(item))
                    {
                        yield return s;
                    }
                }
                break;
        }
    }
}

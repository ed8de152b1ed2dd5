using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry.Commands;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

/// <summary>
/// JSON text built from a stream of drawn numbers, so CsCheck shrinks a failing document by shrinking the numbers:
/// nesting, strings with every kind of escape (surrogate pairs, lone surrogates, control characters), numbers at
/// the edges of what a 64-bit integer or a double holds.
/// </summary>
internal sealed class JsonText(int[] draws)
{
    private int _next;

    public static readonly Gen<int[]> Draws = Gen.Int[0, int.MaxValue].Array[1, 120];

    private int Next(int count) => draws.Length == 0 ? 0 : draws[_next++ % draws.Length] % count;

    public string Value(int depth)
    {
        switch (Next(depth > 3 ? 4 : 6))
        {
            case 0:
                return Next(3) switch { 0 => "null", 1 => "true", _ => "false" };
            case 1:
                return Number();
            case 2:
            case 3:
                return String();
            case 4:
                return "[" + string.Join(",", Enumerable.Range(0, Next(4)).Select(_ => Value(depth + 1))) + "]";
            default:
                var names = new HashSet<string>();
                var members = new List<string>();
                for (int i = Next(4); i > 0; i--)
                {
                    var name = String();
                    if (names.Add(name))
                    {
                        members.Add(name + ":" + Value(depth + 1));
                    }
                }
                return "{" + string.Join(",", members) + "}";
        }
    }

    public string Number() => Next(10) switch
    {
        0 => Next(1000).ToString(),
        1 => "-" + Next(1000),
        2 => long.MaxValue.ToString(),
        3 => long.MinValue.ToString(),
        4 => "9223372036854775808",
        5 => "9007199254740993",
        6 => Next(100) + "." + Next(100),
        7 => Next(100) + "e" + (Next(2) == 0 ? "-" : "+") + Next(400),
        8 => "-0",
        _ => Next(50) + ".0",
    };

    public string String()
    {
        var text = new StringBuilder("\"");
        for (int i = Next(8); i > 0; i--)
        {
            text.Append(Next(12) switch
            {
                0 => "\\\"",
                1 => "\\\\",
                2 => "\\/",
                3 => "\\n\\t\\b\\f\\r",
                4 => $"\\u{Next(0x80):x4}",
                5 => "\\ud83d\\ude00",
                6 => Next(2) == 0 ? "\\ud83d" : "\\ude00",
                7 => "é",
                8 => "😀",
                9 => $"\\u{0xD800 + Next(0x800):X4}",
                _ => ((char)('a' + Next(26))).ToString(),
            });
        }
        return text.Append('"').ToString();
    }

    /// <summary>A CDP command: the fields the classifier reads, each at most once, in any order, with values of any type now and then.</summary>
    public string Command()
    {
        var members = new List<string>();
        if (Next(5) > 0)
        {
            members.Add("\"id\":" + (Next(6) == 0 ? Value(1) : Number()));
        }
        if (Next(8) > 0)
        {
            var names = Enum.GetValues<CdpMethod>();
            var name = names[Next(names.Length)].Name();
            members.Add("\"method\":" + (Next(8) switch
            {
                0 => Value(1),
                1 => "\"" + name.ToLowerInvariant() + "\"",
                2 => "\"" + string.Concat(name.Select(c => Next(3) == 0 ? $"\\u{(int)c:x4}" : c.ToString())) + "\"",
                3 => "\"Runtime.evaluate\"",
                _ => "\"" + name + "\"",
            }));
        }
        if (Next(3) == 0)
        {
            members.Add("\"sessionId\":" + (Next(4) == 0 ? Value(1) : String()));
        }
        if (Next(3) > 0)
        {
            members.Add("\"params\":" + (Next(5) == 0 ? Value(1) : Params()));
        }
        if (Next(3) == 0)
        {
            members.Add("\"x\":" + Value(1));
        }
        // The order is the draw's: shuffled by rotating.
        int turn = members.Count == 0 ? 0 : Next(members.Count);
        return "{" + string.Join(",", members.Skip(turn).Concat(members.Take(turn))) + "}";
    }

    private string Params()
    {
        string[] known = ["\"url\"", "\"x\"", "\"y\"", "\"type\"", "\"text\"", "\"key\"", "\"files\"", "\"targetId\"", "\"accept\"", "\"format\""];
        var names = new HashSet<string>();
        var members = new List<string>();
        for (int i = Next(5); i > 0; i--)
        {
            var name = Next(3) == 0 ? String() : known[Next(known.Length)];
            if (names.Add(name))
            {
                members.Add(name + ":" + Value(2));
            }
        }
        return "{" + string.Join(",", members) + "}";
    }

    /// <summary>Valid text with one byte changed, dropped, repeated or cut after, or bytes that are not UTF-8 put in.</summary>
    public static byte[] Mutate(byte[] text, int[] draws)
    {
        if (text.Length == 0 || draws.Length < 2)
        {
            return text;
        }
        int at = draws[0] % text.Length;
        return (draws[1] % 6) switch
        {
            0 => [.. text[..at], (byte)draws[^1], .. text[(at + 1)..]],
            1 => [.. text[..at], .. text[(at + 1)..]],
            2 => [.. text[..(at + 1)], .. text[at..]],
            3 => text[..at],
            4 => [.. text[..at], 0xC3, .. text[at..]],
            _ => [.. text[..at], 0xED, 0xA0, 0x80, .. text[at..]],
        };
    }

    /// <summary>What System.Text.Json makes of the text, every string read out, so a lone surrogate escape counts as a failure too.</summary>
    public static bool FullyReadable(byte[] utf8, int maxDepth, out JsonDocument? document)
    {
        document = null;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = maxDepth });
            ReadAll(document.RootElement);
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            document?.Dispose();
            document = null;
            return false;
        }
    }

    private static void ReadAll(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    ReadAll(item);
                }
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    ReadAll(property.Value);
                }
                break;
        }
    }
}

using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// The fast way to a payload for a method whose retained arguments are all top-level keys of <c>params</c> (every
/// Input gesture, navigation, dialog and most others): the classifier's reader walks the params object once, each
/// key it meets is matched against the method's few retained keys and its value reduced on the spot, and the fields
/// are then written in manifest order. No document is built and no key is looked up more than once. Methods with a
/// nested or array path (<c>bounds.left</c>, <c>files[]</c>) keep the document path; both give the same payload.
/// </summary>
internal sealed class CdpOnePassParams
{
    /// <summary>Retained arguments of one method are few (16 at most); their slots live on the stack.</summary>
    public const int MaxArguments = 32;

    private static readonly CdpOnePassParams?[] ByMethod = CdpMethods.All.Select(Build).ToArray();

    private readonly CdpArgument[] _arguments;
    private readonly byte[][] _keys;

    private CdpOnePassParams(CdpArgument[] arguments)
    {
        _arguments = arguments;
        _keys = Array.ConvertAll(arguments, static a => a.KeyUtf8);
    }

    public int Count => _arguments.Length;

    /// <summary>The plan for <paramref name="method"/>, or null when it needs the document path.</summary>
    public static CdpOnePassParams? For(CdpMethod method) => ByMethod[(int)method];

    /// <summary>
    /// Reads the params object the reader is on (its start token) to its end token, keeping each retained argument
    /// in <paramref name="slots"/> (indexed like the method's retained arguments).
    /// </summary>
    public void Capture(ref Utf8JsonReader reader, scoped Span<CdpCapturedArgument> slots)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int index = IndexOf(ref reader);
            reader.Read();
            if (index >= 0)
            {
                _arguments[index].Capture(ref reader, ref slots[index]);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>Writes the fields in manifest order; throws for the first malformed argument, as the document path does.</summary>
    public void Write(ReadOnlySpan<CdpCapturedArgument> slots, ReadOnlySpan<byte> frame, Utf8JsonWriter writer)
    {
        for (int i = 0; i < _arguments.Length; i++)
        {
            _arguments[i].WriteCaptured(slots[i], frame, writer);
        }
    }

    private int IndexOf(ref Utf8JsonReader reader)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            if (JsonStringText.NameEquals(ref reader, _keys[i]))
            {
                return i;
            }
        }
        return -1;
    }

    private static CdpOnePassParams? Build(CdpMethod method)
    {
        CdpArgument[] all = CdpArgumentManifest.ArgumentsOf(method);
        if (!all.All(a => a.IsTopLevel))
        {
            return null;
        }
        CdpArgument[] retained = all.Where(a => a.Retained).ToArray();
        return retained.Length <= MaxArguments ? new CdpOnePassParams(retained) : null;
    }
}

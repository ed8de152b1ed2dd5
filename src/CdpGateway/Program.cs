using CdpGateway.Hosting;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.Out.Write(CommandLine.Usage());
    return 0;
}
if (CommandLine.AsksForVersion(args))
{
    Console.Out.WriteLine(GatewayVersion.Line());
    return 0;
}

GatewayApp created;
try
{
    // Parsing checks each value, creating checks what the gateway reads later: both refuse the same way.
    created = GatewayApp.Create(CommandLine.Parse(args));
}
catch (PlatformRefusalException ex)
{
    // Not a bad option: the platform, named with what to do instead. The usage would only bury it.
    Console.Error.WriteLine("cdp-gateway: " + ex.Message);
    return 2;
}
catch (OptionException ex)
{
    Console.Error.WriteLine("cdp-gateway: " + ex.Message);
    Console.Error.WriteLine();
    Console.Error.Write(CommandLine.Usage());
    return 2;
}
await using var gateway = created;
try
{
    await gateway.StartAsync();
}
catch (Exception ex)
{
    Console.Error.WriteLine("cdp-gateway: " + ex.Message);
    await gateway.StopAsync();
    return 1;
}
await gateway.WaitForShutdownAsync();
await gateway.StopAsync();
return 0;

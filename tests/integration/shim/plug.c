/* A library stored on the volume, loaded with dlopen. */
int plug_value(void) { return 42; }

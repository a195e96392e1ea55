// Warm javac for the sandbox supervisor (sandboxes/image/_sg_compilers.py): one JVM with the compiler
// loaded and JIT-compiled serves every Java compile of its container, each in the job's own directory.
// Request, one line on stdin: id TAB output-file TAB cwd TAB javac arguments (absolute paths), TAB-separated.
// Response, one line on stdout: id TAB exit status; the compiler's messages go to the output file.
// Started from an execute-only copy of the launcher, so it is not dumpable: a job of the same uid
// cannot ptrace it or read its memory.
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

public class JavacServer {
    public static void main(String[] argv) throws Exception {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        out.println("ready");
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split("\t", -1);
            int code;
            try (OutputStream messages = new FileOutputStream(parts[1])) {
                code = javac.run(null, messages, messages, Arrays.copyOfRange(parts, 3, parts.length));
            } catch (Throwable t) {
                code = 4;
            }
            out.println(parts[0] + "\t" + code);
        }
    }
}

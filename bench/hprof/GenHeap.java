// GenHeap: builds a realistic Java service heap of a chosen size, for the HPROF benchmark
// (bench/hprof/run.sh, bench/hprof.md). JDK only, plain javac:
//
//   javac -d BUILD bench/hprof/GenHeap.java
//   java -Xmx6g -cp BUILD GenHeap 256                 # about 256 MiB of live heap
//   java -Xmx6g -cp BUILD GenHeap --dump-mb 2048 --calib-dir bench/out
//                                                     # about 2048 MiB of HPROF file
//   java -Xmx6g -cp BUILD GenHeap --units 460000      # exactly this many session units
//
// Options: [LIVE_MB | --live-mb N | --dump-mb N | --units U] [--seed S] [--calib-dir DIR].
// When the heap is built it collects (System.gc() three times, with pauses so the Cleaner
// runs), prints a few "key: value" lines and then "ready", and blocks reading stdin; the
// driver takes `jcmd <pid> GC.heap_dump` meanwhile. Any line or end of input exits. While it
// waits no thread allocates.
//
// The heap is made of "session units", all driven by one seeded java.util.Random (default
// seed 1234567; no wall-clock values, no identity hash codes in the data), so the
// application part of the heap is the same on every run with the same unit count:
//
// * SESSIONS: static HashMap<String, Session> (the cache), one Session per unit: id String,
//   User (30% of sessions share an existing user), enum status, Preferences (a HashMap of
//   flags with boxed Boolean/Integer/Long values), AuthToken (hex String + byte[32] secret),
//   a cart ArrayList of 0-6 CartItems (sku String, boxed Long price, ArrayList of tag
//   Strings), an ArrayList of 1-5 AuditEntry (duplicate-content detail Strings, boxed
//   Integer codes), a byte[] payload of 64 B - 4 KiB (log-uniform), int[8] recent pages,
//   double[4] scores, 1/3 a Draft with a char[] of 32-512 chars, 1/4 a small HashMap of
//   attributes;
// * USERS: static HashMap<String, User> (id, email, display name and city as
//   duplicate-content Strings, Address, ArrayList of shared role Strings, boxed age);
// * LIMITERS: static ConcurrentHashMap<String, RateLimiter> per user (long[16] window,
//   AtomicLong);
// * VISITS: static ConcurrentHashMap<Long, Integer> per session (small boxed values);
// * RESPONSES: static access-ordered LinkedHashMap LRU of CachedResponse (byte[] body of
//   256 B - 8 KiB, HashMap of headers), capped at units/8 entries by removeEldestEntry: one
//   unit in four puts a response, so it is always full and evicts;
// * ORDERS: static ArrayList of Orders (1 unit in 20) that share their session's CartItems;
// * a "gen-worker" thread parked in Object.wait() holding a local list of 64 sessions.
//
// Sizing: with --dump-mb the program writes two calibration dumps itself (C and 2C units,
// HotSpotDiagnosticMXBean.dumpHeap with live=true, into --calib-dir, deleted at once),
// takes dump bytes per unit from their difference, solves the unit count for the target,
// rounds it to a multiple of 1000 and prints it; --live-mb does the same with the heap
// used after System.gc(). Replay an exact count with --units. Targets below about 2C units
// (roughly 100 MiB) overshoot: the calibration units stay in the heap.
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

public class GenHeap {
    static final int CALIB_UNITS = 10_000;
    static final long BASE_TIME = 1_795_000_000_000L; // fixed "now" (ms), no wall clock

    enum Status { ACTIVE, IDLE, EXPIRED, LOCKED }

    static final class Address {
        final String street;
        final String city;
        final String zip;
        final String country;

        Address(String street, String city, String zip, String country) {
            this.street = street;
            this.city = city;
            this.zip = zip;
            this.country = country;
        }
    }

    static final class User {
        final String id;
        final String email;
        final String displayName;
        final Address address;
        final List<String> roles;
        final Integer age;
        final long createdAt;

        User(String id, String email, String displayName, Address address, List<String> roles,
                Integer age, long createdAt) {
            this.id = id;
            this.email = email;
            this.displayName = displayName;
            this.address = address;
            this.roles = roles;
            this.age = age;
            this.createdAt = createdAt;
        }
    }

    static final class Preferences {
        final String locale;
        final String theme;
        final Map<String, Object> flags;

        Preferences(String locale, String theme, Map<String, Object> flags) {
            this.locale = locale;
            this.theme = theme;
            this.flags = flags;
        }
    }

    static final class AuthToken {
        final String value;
        final byte[] secret;
        final String scope;
        final long expiresAt;

        AuthToken(String value, byte[] secret, String scope, long expiresAt) {
            this.value = value;
            this.secret = secret;
            this.scope = scope;
            this.expiresAt = expiresAt;
        }
    }

    static final class CartItem {
        final String sku;
        final int quantity;
        final Long priceCents;
        final List<String> tags;

        CartItem(String sku, int quantity, Long priceCents, List<String> tags) {
            this.sku = sku;
            this.quantity = quantity;
            this.priceCents = priceCents;
            this.tags = tags;
        }
    }

    static final class AuditEntry {
        final long at;
        final String action;
        final String detail;
        final Integer code;

        AuditEntry(long at, String action, String detail, Integer code) {
            this.at = at;
            this.action = action;
            this.detail = detail;
            this.code = code;
        }
    }

    static final class Draft {
        final char[] text;
        int cursor;

        Draft(char[] text) {
            this.text = text;
        }
    }

    static final class Session {
        final String id;
        final User user;
        Status status;
        final Preferences prefs;
        final AuthToken token;
        final ArrayList<CartItem> cart;
        final ArrayList<AuditEntry> audit;
        final byte[] payload;
        final int[] recentPages = new int[8];
        final double[] scores = new double[4];
        Draft draft;
        Map<String, String> attributes;
        final long createdAt;
        long lastSeen;
        int hits;

        Session(String id, User user, Preferences prefs, AuthToken token, ArrayList<CartItem> cart,
                ArrayList<AuditEntry> audit, byte[] payload, long createdAt) {
            this.id = id;
            this.user = user;
            this.prefs = prefs;
            this.token = token;
            this.cart = cart;
            this.audit = audit;
            this.payload = payload;
            this.createdAt = createdAt;
            this.lastSeen = createdAt;
        }
    }

    static final class RateLimiter {
        final long[] window = new long[16];
        final AtomicLong requests = new AtomicLong();
        double tokens = 100.0;
    }

    static final class CachedResponse {
        final byte[] body;
        final String contentType;
        final Map<String, String> headers;
        final long cachedAt;

        CachedResponse(byte[] body, String contentType, Map<String, String> headers, long cachedAt) {
            this.body = body;
            this.contentType = contentType;
            this.headers = headers;
            this.cachedAt = cachedAt;
        }
    }

    static final class Order {
        final String orderId;
        final Session session;
        final List<CartItem> items;
        final Long totalCents;

        Order(String orderId, Session session, List<CartItem> items, Long totalCents) {
            this.orderId = orderId;
            this.session = session;
            this.items = items;
            this.totalCents = totalCents;
        }
    }

    static final HashMap<String, Session> SESSIONS = new HashMap<>();
    static final HashMap<String, User> USERS = new HashMap<>();
    static final ArrayList<User> USER_LIST = new ArrayList<>();
    static final ConcurrentHashMap<String, RateLimiter> LIMITERS = new ConcurrentHashMap<>();
    static final ConcurrentHashMap<Long, Integer> VISITS = new ConcurrentHashMap<>();
    static volatile int responseCap = 256;
    static final LinkedHashMap<String, CachedResponse> RESPONSES =
            new LinkedHashMap<String, CachedResponse>(1024, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, CachedResponse> eldest) {
                    return size() > responseCap;
                }
            };
    static final ArrayList<Order> ORDERS = new ArrayList<>();
    static final ArrayList<Session> WORKER_BATCH = new ArrayList<>();

    static final String[] CITIES = {"Lisbon", "Zürich", "Kraków", "São Paulo", "Osaka", "Austin",
        "Nairobi", "Montréal", "Oslo", "Pune", "Lyon", "Dublin", "Perth", "Quito", "Seoul", "Tartu"};
    static final String[] COUNTRIES = {"PT", "CH", "PL", "BR", "JP", "US", "KE", "CA", "NO", "IN",
        "FR", "IE", "AU", "EC", "KR", "EE"};
    static final String[] FIRST = {"Ana", "Bruno", "Chloé", "Dmitri", "Eve", "Farah", "Goran",
        "Hiro", "Inés", "Jonas", "Kwame", "Lena", "Mateo", "Noor", "Olga", "Pia", "Quinn", "Rui"};
    static final String[] LAST = {"Silva", "Müller", "Nowak", "Costa", "Tanaka", "Smith", "Otieno",
        "Tremblay", "Hansen", "Patel", "Martin", "Byrne", "Nguyen", "Mora", "Kim", "Tamm"};
    static final String[] ROLES = {"user", "admin", "billing", "support", "beta", "readonly"};
    static final String[] LOCALES = {"en-US", "pt-PT", "de-CH", "pl-PL", "ja-JP", "fr-FR"};
    static final String[] THEMES = {"light", "dark", "system"};
    static final String[] FLAGS = {"newCheckout", "emailOptIn", "twoFactor", "compactView",
        "pageSize", "lastTab", "quotaBytes", "betaSearch"};
    static final String[] TAGS = {"sale", "new", "gift", "fragile", "bulk", "eco", "imported"};
    static final String[] ACTIONS = {"login", "view", "add_to_cart", "remove_from_cart",
        "checkout", "update_profile", "logout", "search"};
    static final String[] SCOPES = {"read", "read write", "read write admin"};
    static final String[] CONTENT_TYPES = {"application/json", "text/html; charset=utf-8",
        "application/octet-stream", "image/png"};
    static final String[] PATHS = {"/api/v2/products/", "/api/v2/users/", "/api/v2/search?q=",
        "/static/img/", "/api/v2/orders/", "/api/v2/recommendations/"};

    final Random rnd;
    int built;

    GenHeap(long seed) {
        rnd = new Random(seed);
    }

    /** A new String with its own value array (as decoded from I/O), not a shared literal. */
    static String dup(String s) {
        return new String(s.toCharArray());
    }

    String hex(int chars) {
        StringBuilder sb = new StringBuilder(chars);
        while (sb.length() < chars) {
            sb.append(Long.toHexString(rnd.nextLong() | Long.MIN_VALUE));
        }
        sb.setLength(chars);
        return sb.toString();
    }

    <T> T pick(T[] a) {
        return a[rnd.nextInt(a.length)];
    }

    /** Log-uniform integer in [lo, hi]. */
    int logUniform(int lo, int hi) {
        double x = Math.log(lo) + rnd.nextDouble() * (Math.log(hi) - Math.log(lo));
        return (int) Math.round(Math.exp(x));
    }

    byte[] bytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    User newUser(int n) {
        String first = pick(FIRST);
        String last = pick(LAST);
        int c = rnd.nextInt(CITIES.length);
        Address address = new Address(
                (1 + rnd.nextInt(400)) + " " + pick(LAST) + " Street",
                dup(CITIES[c]),
                String.format("%05d", rnd.nextInt(100_000)),
                COUNTRIES[c]);
        int nroles = 1 + rnd.nextInt(3);
        List<String> roles = new ArrayList<>(nroles);
        for (int i = 0; i < nroles; i++) {
            roles.add(pick(ROLES));
        }
        return new User(
                "u-" + Integer.toString(n, 36) + "-" + hex(6),
                (first + "." + last + n).toLowerCase(java.util.Locale.ROOT) + "@example.com",
                dup(first + " " + last),
                address,
                roles,
                Integer.valueOf(16 + rnd.nextInt(70)),
                BASE_TIME - rnd.nextInt(1_000_000_000));
    }

    Preferences newPreferences() {
        int n = 2 + rnd.nextInt(5);
        Map<String, Object> flags = new HashMap<>();
        for (int i = 0; i < n; i++) {
            String k = pick(FLAGS);
            Object v;
            switch (rnd.nextInt(4)) {
                case 0: v = Boolean.valueOf(rnd.nextBoolean()); break;
                case 1: v = Integer.valueOf(rnd.nextInt(100)); break;          // cached boxes
                case 2: v = Integer.valueOf(128 + rnd.nextInt(100_000)); break; // new boxes
                default: v = Long.valueOf(rnd.nextInt(1 << 30) * 16L); break;
            }
            flags.put(k, v);
        }
        return new Preferences(pick(LOCALES), pick(THEMES), flags);
    }

    ArrayList<CartItem> newCart() {
        int n = rnd.nextInt(7);
        ArrayList<CartItem> cart = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int ntags = 1 + rnd.nextInt(3);
            ArrayList<String> tags = new ArrayList<>(ntags);
            for (int t = 0; t < ntags; t++) {
                tags.add(pick(TAGS));
            }
            cart.add(new CartItem("SKU-" + (100_000 + rnd.nextInt(900_000)) + "-" + (char) ('A' + rnd.nextInt(26)),
                    1 + rnd.nextInt(4), Long.valueOf(99 + rnd.nextInt(50_000)), tags));
        }
        return cart;
    }

    ArrayList<AuditEntry> newAudit(long t) {
        int n = 1 + rnd.nextInt(5);
        ArrayList<AuditEntry> audit = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String action = pick(ACTIONS);
            // Duplicate content: the same few detail strings, each a separate String + byte[].
            String detail = dup(action + " ok via " + pick(PATHS));
            audit.add(new AuditEntry(t + i * 1000L, action, detail, Integer.valueOf(200 + rnd.nextInt(5) * 100)));
        }
        return audit;
    }

    /** One session unit; see the header comment. */
    void buildUnit() {
        int n = built++;
        long t = BASE_TIME - rnd.nextInt(86_400_000);
        User user;
        if (!USER_LIST.isEmpty() && rnd.nextInt(10) < 3) {
            user = USER_LIST.get(rnd.nextInt(USER_LIST.size()));
        } else {
            user = newUser(n);
            USERS.put(user.id, user);
            USER_LIST.add(user);
            LIMITERS.put(user.id, new RateLimiter());
        }
        String id = "s-" + hex(16);
        AuthToken token = new AuthToken(hex(32), bytes(32), pick(SCOPES), t + 3_600_000L);
        Session s = new Session(id, user, newPreferences(), token, newCart(), newAudit(t),
                bytes(logUniform(64, 4096)), t);
        s.status = Status.values()[rnd.nextInt(4)];
        s.hits = rnd.nextInt(500);
        for (int i = 0; i < s.recentPages.length; i++) {
            s.recentPages[i] = rnd.nextInt(10_000);
        }
        for (int i = 0; i < s.scores.length; i++) {
            s.scores[i] = rnd.nextDouble();
        }
        if (rnd.nextInt(3) == 0) {
            char[] text = new char[32 + rnd.nextInt(481)];
            for (int i = 0; i < text.length; i++) {
                text[i] = (char) ('a' + rnd.nextInt(26));
            }
            s.draft = new Draft(text);
        }
        if (rnd.nextInt(4) == 0) {
            s.attributes = new HashMap<>();
            s.attributes.put("ua", dup("Mozilla/5.0 (X11; Linux x86_64) plateau-bench/" + rnd.nextInt(20)));
            s.attributes.put("ip", (10 + rnd.nextInt(200)) + "." + rnd.nextInt(256) + "." + rnd.nextInt(256) + "." + rnd.nextInt(256));
        }
        SESSIONS.put(id, s);
        VISITS.put(Long.valueOf(1_000_000L + n), Integer.valueOf(rnd.nextInt(rnd.nextBoolean() ? 100 : 5000)));
        LIMITERS.get(user.id).requests.incrementAndGet();

        // Response cache: capped at an eighth of the units so far, fed by a quarter of them.
        responseCap = Math.max(256, built / 8);
        if (rnd.nextInt(4) == 0) {
            String key = "GET " + pick(PATHS) + hex(10);
            Map<String, String> headers = new HashMap<>();
            headers.put("etag", "\"" + hex(12) + "\"");
            headers.put("cache-control", dup("max-age=" + (60 * (1 + rnd.nextInt(10)))));
            headers.put("x-request-id", hex(20));
            RESPONSES.put(key, new CachedResponse(bytes(logUniform(256, 8192)), pick(CONTENT_TYPES),
                    headers, t));
        }
        if (!RESPONSES.isEmpty() && rnd.nextInt(2) == 0) {
            RESPONSES.get(RESPONSES.keySet().iterator().next()); // touch the eldest: LRU order moves
        }
        if (rnd.nextInt(20) == 0) {
            long total = 0;
            for (CartItem item : s.cart) {
                total += item.priceCents * item.quantity;
            }
            ORDERS.add(new Order("o-" + hex(12), s, new ArrayList<>(s.cart), Long.valueOf(total)));
        }
        if (WORKER_BATCH.size() < 64) {
            WORKER_BATCH.add(s);
        }
    }

    static void settle() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(200);
        }
    }

    static long usedHeap() throws InterruptedException {
        settle();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static long dumpSize(File dir, int tag) throws Exception {
        File f = new File(dir, "genheap-calib-" + ProcessHandle.current().pid() + "-" + tag + ".hprof");
        f.delete();
        com.sun.management.HotSpotDiagnosticMXBean bean = ManagementFactory.getPlatformMXBean(
                com.sun.management.HotSpotDiagnosticMXBean.class);
        bean.dumpHeap(f.getPath(), true);
        long size = f.length();
        if (!f.delete()) {
            System.err.println("GenHeap: warning: could not delete " + f);
        }
        return size;
    }

    static void usage() {
        System.err.println("usage: GenHeap [LIVE_MB | --live-mb N | --dump-mb N | --units U] [--seed S] [--calib-dir DIR]");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        long liveMb = 0;
        long dumpMb = 0;
        int units = 0;
        long seed = 1234567L;
        File calibDir = new File(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--live-mb") && i + 1 < args.length) {
                liveMb = Long.parseLong(args[++i]);
            } else if (a.equals("--dump-mb") && i + 1 < args.length) {
                dumpMb = Long.parseLong(args[++i]);
            } else if (a.equals("--units") && i + 1 < args.length) {
                units = Integer.parseInt(args[++i]);
            } else if (a.equals("--seed") && i + 1 < args.length) {
                seed = Long.parseLong(args[++i]);
            } else if (a.equals("--calib-dir") && i + 1 < args.length) {
                calibDir = new File(args[++i]);
            } else if (a.matches("[0-9]+")) {
                liveMb = Long.parseLong(a);
            } else {
                usage();
            }
        }
        if (liveMb == 0 && dumpMb == 0 && units == 0) {
            usage();
        }
        long started = System.nanoTime();
        GenHeap gen = new GenHeap(seed);

        if (units == 0) {
            // Two calibration points, C and 2C units, in the real structures.
            boolean dump = dumpMb > 0;
            long target = (dump ? dumpMb : liveMb) << 20;
            for (int i = 0; i < CALIB_UNITS; i++) {
                gen.buildUnit();
            }
            long b1 = dump ? dumpSize(calibDir, 1) : usedHeap();
            for (int i = 0; i < CALIB_UNITS; i++) {
                gen.buildUnit();
            }
            long b2 = dump ? dumpSize(calibDir, 2) : usedHeap();
            double perUnit = (double) (b2 - b1) / CALIB_UNITS;
            double fixed = b1 - perUnit * CALIB_UNITS;
            units = (int) Math.max(2 * CALIB_UNITS, Math.round((target - fixed) / perUnit / 1000.0) * 1000);
            System.out.printf("calibration: %s, %d units %d B, %d units %d B, %.0f B/unit, fixed %.0f B%n",
                    dump ? "dump file" : "live heap", CALIB_UNITS, b1, 2 * CALIB_UNITS, b2, perUnit, fixed);
        }
        while (gen.built < units) {
            gen.buildUnit();
        }

        Object lock = new Object();
        Thread worker = new Thread(() -> {
            List<Session> local = new ArrayList<>(WORKER_BATCH); // a stack-held list (a GC root)
            synchronized (lock) {
                try {
                    while (true) {
                        lock.wait();
                        local.size();
                    }
                } catch (InterruptedException e) {
                    // exit
                }
            }
        }, "gen-worker");
        worker.setDaemon(true);
        worker.start();

        long live = usedHeap();
        System.out.println("units: " + units);
        System.out.println("seed: " + seed);
        System.out.println("sessions: " + SESSIONS.size() + ", users: " + USERS.size()
                + ", responses: " + RESPONSES.size() + ", orders: " + ORDERS.size());
        System.out.println("live heap: " + live + " B (" + (live >> 20) + " MiB)");
        System.out.printf("build: %.1f s%n", (System.nanoTime() - started) / 1e9);
        System.out.println("ready");
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in)).readLine();
    }
}

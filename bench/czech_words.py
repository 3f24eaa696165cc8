"""Czech names, places and trades that generated clients are made of (bench/client_data.py).
Weights where the real distribution is far from even (Praha, Novák); the rest is uniform."""

# (male, female) surnames; the first ones the most common in the Czech Republic
SURNAMES = [
    ("Novák", "Nováková"), ("Svoboda", "Svobodová"), ("Novotný", "Novotná"),
    ("Dvořák", "Dvořáková"), ("Černý", "Černá"), ("Procházka", "Procházková"),
    ("Kučera", "Kučerová"), ("Veselý", "Veselá"), ("Horák", "Horáková"),
    ("Němec", "Němcová"), ("Marek", "Marková"), ("Pokorný", "Pokorná"),
    ("Pospíšil", "Pospíšilová"), ("Hájek", "Hájková"), ("Jelínek", "Jelínková"),
    ("Král", "Králová"), ("Růžička", "Růžičková"), ("Beneš", "Benešová"),
    ("Fiala", "Fialová"), ("Sedláček", "Sedláčková"), ("Doležal", "Doležalová"),
    ("Zeman", "Zemanová"), ("Kolář", "Kolářová"), ("Navrátil", "Navrátilová"),
    ("Čermák", "Čermáková"), ("Vaněk", "Vaňková"), ("Urban", "Urbanová"),
    ("Blažek", "Blažková"), ("Kříž", "Křížová"), ("Kovář", "Kovářová"),
    ("Bartoš", "Bartošová"), ("Vlček", "Vlčková"), ("Polák", "Poláková"),
    ("Kopecký", "Kopecká"), ("Musil", "Musilová"), ("Šimek", "Šimková"),
    ("Konečný", "Konečná"), ("Malý", "Malá"), ("Holub", "Holubová"),
    ("Štěpánek", "Štěpánková"), ("Kadlec", "Kadlecová"), ("Dostál", "Dostálová"),
    ("Soukup", "Soukupová"), ("Šťastný", "Šťastná"), ("Mareš", "Marešová"),
    ("Moravec", "Moravcová"), ("Sýkora", "Sýkorová"), ("Tichý", "Tichá"),
    ("Valenta", "Valentová"), ("Vávra", "Vávrová"), ("Matoušek", "Matoušková"),
    ("Bláha", "Bláhová"), ("Říha", "Říhová"), ("Ševčík", "Ševčíková"),
    ("Bureš", "Burešová"), ("Hruška", "Hrušková"), ("Mašek", "Mašková"),
    ("Pavlík", "Pavlíková"), ("Janda", "Jandová"), ("Hrubý", "Hrubá"),
    ("Dušek", "Dušková"), ("Kratochvíl", "Kratochvílová"), ("Šindelář", "Šindelářová"),
    ("Žák", "Žáková"), ("Skála", "Skálová"), ("Kubíček", "Kubíčková"),
    ("Kazda", "Kazdová"), ("Havlíček", "Havlíčková"), ("Hanák", "Hanáková"),
    ("Vojtíšek", "Vojtíšková"), ("Lukáš", "Lukášová"), ("Krejčí", "Krejčí"),
    ("Jireš", "Jirešová"), ("Slanina", "Slaninová"), ("Chalupa", "Chalupová"),
    ("Pešek", "Pešková"), ("Řezníček", "Řezníčková"), ("Uhlíř", "Uhlířová"),
    ("Zelenka", "Zelenková"), ("Štěrba", "Štěrbová"), ("Ptáček", "Ptáčková"),
    ("Čížek", "Čížková"), ("Hloušek", "Hloušková"), ("Kočí", "Kočí"),
    ("Drábek", "Drábková"), ("Brož", "Brožová"), ("Šebesta", "Šebestová"),
    ("Tůma", "Tůmová"), ("Řehák", "Řeháková"), ("Mach", "Machová"),
    ("Vondráček", "Vondráčková"), ("Hořejší", "Hořejší"), ("Šustr", "Šustrová"),
    ("Dvorský", "Dvorská"), ("Bednář", "Bednářová"), ("Tesař", "Tesařová"),
    ("Zábranský", "Zábranská"), ("Ondráček", "Ondráčková"), ("Fořt", "Fořtová"),
    ("Vacek", "Vacková"), ("Jež", "Ježková"), ("Kubát", "Kubátová"),
    ("Šafránek", "Šafránková"), ("Rybář", "Rybářová"), ("Kalina", "Kalinová"),
    ("Lorenc", "Lorencová"), ("Pech", "Pechová"), ("Starý", "Stará"),
    ("Mládek", "Mládková"), ("Wagner", "Wagnerová"), ("Schwarz", "Schwarzová"),
    ("Hlaváček", "Hlaváčková"), ("Kubeš", "Kubešová"), ("Zajíček", "Zajíčková"),
    ("Vrba", "Vrbová"), ("Sládek", "Sládková"), ("Žižka", "Žižková"),
    ("Koubek", "Koubková"), ("Jiráček", "Jiráčková"), ("Kohout", "Kohoutová"),
    ("Macháček", "Macháčková"), ("Charvát", "Charvátová"), ("Vít", "Vítová"),
    ("Hošek", "Hošková"), ("Zedník", "Zedníková"), ("Bárta", "Bártová"),
]
# the first ten surnames are each about three times as common as the rest
SURNAME_WEIGHTS = [3] * 10 + [1] * (len(SURNAMES) - 10)

MALE_NAMES = ["Jiří", "Jan", "Petr", "Josef", "Pavel", "Martin", "Tomáš", "Jaroslav",
              "Miroslav", "Zdeněk", "Václav", "Michal", "František", "Jakub", "Milan",
              "Karel", "Lukáš", "David", "Vladimír", "Ondřej", "Ladislav", "Roman",
              "Stanislav", "Marek", "Radek", "Daniel", "Vojtěch", "Antonín", "Filip",
              "Adam", "Matěj", "Libor", "Aleš", "Dušan", "Přemysl", "Bořivoj", "Čestmír",
              "Ctibor", "Řehoř", "Štěpán"]
FEMALE_NAMES = ["Jana", "Marie", "Eva", "Hana", "Anna", "Lenka", "Kateřina", "Lucie",
                "Věra", "Alena", "Petra", "Veronika", "Jaroslava", "Tereza", "Martina",
                "Michaela", "Jitka", "Helena", "Ludmila", "Zdeňka", "Ivana", "Monika",
                "Eliška", "Zuzana", "Markéta", "Barbora", "Kristýna", "Dagmar", "Šárka",
                "Růžena", "Blanka", "Dana", "Ilona", "Radka", "Soňa", "Žaneta", "Božena",
                "Květoslava", "Olga", "Renata"]
DEGREES = ["Ing.", "Mgr.", "Bc.", "MUDr.", "JUDr.", "PhDr.", "Ing. arch.", "doc. Ing.",
           "RNDr.", "MBA"]
POSITIONS = ["jednatel", "jednatelka", "ředitel", "obchodní ředitel", "finanční ředitelka",
             "účetní", "nákup", "vedoucí provozu", "asistentka", "projektový manažer",
             "majitel", "technik", "vedoucí skladu", "marketing", "IT správce",
             "předseda představenstva", "office manager", "fakturace"]

# (city, its postal codes' first three digits, weight ~ its share of companies)
CITIES = [
    ("Praha", "1", 20), ("Brno", "602", 7), ("Ostrava", "702", 4), ("Plzeň", "301", 3),
    ("Liberec", "460", 2), ("Olomouc", "779", 2), ("České Budějovice", "370", 2),
    ("Hradec Králové", "500", 2), ("Ústí nad Labem", "400", 2), ("Pardubice", "530", 2),
    ("Zlín", "760", 2), ("Havířov", "736", 1), ("Kladno", "272", 1), ("Most", "434", 1),
    ("Opava", "746", 1), ("Jihlava", "586", 1), ("Frýdek-Místek", "738", 1),
    ("Karviná", "733", 1), ("Teplice", "415", 1), ("Děčín", "405", 1),
    ("Karlovy Vary", "360", 1), ("Chomutov", "430", 1), ("Jablonec nad Nisou", "466", 1),
    ("Mladá Boleslav", "293", 1), ("Prostějov", "796", 1), ("Přerov", "750", 1),
    ("Česká Lípa", "470", 1), ("Třebíč", "674", 1), ("Třinec", "739", 1),
    ("Tábor", "390", 1), ("Znojmo", "669", 1), ("Příbram", "261", 1), ("Cheb", "350", 1),
    ("Kolín", "280", 1), ("Trutnov", "541", 1), ("Písek", "397", 1),
    ("Kroměříž", "767", 1), ("Šumperk", "787", 1), ("Vsetín", "755", 1),
    ("Uherské Hradiště", "686", 1), ("Břeclav", "690", 1), ("Hodonín", "695", 1),
    ("Český Krumlov", "381", 1), ("Litoměřice", "412", 1), ("Havlíčkův Brod", "580", 1),
    ("Žďár nad Sázavou", "591", 1), ("Nový Jičín", "741", 1), ("Strakonice", "386", 1),
    ("Klatovy", "339", 1), ("Benešov", "256", 1), ("Říčany", "251", 1),
    ("Beroun", "266", 1), ("Kutná Hora", "284", 1), ("Náchod", "547", 1),
    ("Rychnov nad Kněžnou", "516", 1), ("Sokolov", "356", 1), ("Vyškov", "682", 1),
    ("Blansko", "678", 1), ("Louny", "440", 1), ("Rakovník", "269", 1),
]
STREETS = ["Hlavní", "Nádražní", "Školní", "Husova", "Masarykova", "Komenského", "Palackého",
           "Jiráskova", "Havlíčkova", "Smetanova", "Tyršova", "Žižkova", "Sokolská",
           "Zahradní", "Lidická", "Riegrova", "Nerudova", "Revoluční", "Průmyslová",
           "Polní", "Krátká", "Dlouhá", "Lipová", "Luční", "U Stadionu", "Na Výsluní",
           "Ke Škole", "Pod Lesem", "Vinohradská", "Náměstí Míru", "Americká",
           "Korunní", "Štefánikova", "Čs. armády", "Třída Tomáše Bati", "Křižíkova",
           "Údolní", "Vídeňská", "Pražská", "Brněnská", "Ostravská", "Řeznická",
           "Šafaříkova", "Žitná", "Újezd", "Dělnická", "Sládkova", "Fügnerova"]

# company names: an owner or a brand, a trade, and something that tells them apart
BRANDS = ["Agro", "Elektro", "Auto", "Techno", "Stavo", "Metal", "Trans", "Info", "Medi",
          "Dřevo", "Kovo", "Bio", "Eko", "Geo", "Hydro", "Termo", "Plast", "Sklo", "Textil",
          "Alfa", "Beta", "Delta", "Omega", "Sigma", "Nova", "Prima", "Optima", "Vltava",
          "Morava", "Bohemia", "Šumava", "Krkonoše", "Vysočina", "Haná", "Podlesí",
          "Labe", "Ohře", "Jizera", "Sázava", "Berounka", "Žluťoučký kůň", "Zlatý klas",
          "Modrý pták", "Bílá hora", "Černý les", "Zelený háj", "Stříbrný vítr",
          "Červená růže", "Dobrá voda", "Nový dvůr", "Starý mlýn", "Horní Ves",
          "Dolní Lhota", "Lesní", "Polní", "Sluneční", "Česká", "Moravská", "Slezská",
          "Středočeská", "Superfaktura.cz", "Webkraft", "Softlab", "Datapoint",
          "Netcom", "Cyberfox", "Pixelart", "Cloudio", "Bytestream", "Kodex"]
TRADES = ["stavby", "stavební firma", "elektro", "elektroinstalace", "autoservis",
          "autodoprava", "doprava", "spedice", "logistika", "strojírna", "strojírenství",
          "slévárna", "kovovýroba", "zámečnictví", "truhlářství", "tesařství",
          "pekárna", "cukrárna", "řeznictví", "uzenářství", "mlékárna", "pivovar",
          "vinařství", "lihovar", "zahradnictví", "lesnictví", "statek", "farma",
          "zemědělské družstvo", "účetnictví", "daňové poradenství", "advokátní kancelář",
          "reality", "development", "správa nemovitostí", "úklid", "ostraha",
          "personální agentura", "reklama", "tiskárna", "vydavatelství", "software",
          "IT služby", "webdesign", "telekomunikace", "energie", "solární elektrárny",
          "instalatérství", "topenářství", "klimatizace", "malířství", "obkladačství",
          "podlahy", "okna a dveře", "kuchyně", "nábytek", "čalounictví", "textil",
          "obuv", "optika", "lékárna", "zdravotnické potřeby", "stomatologie",
          "veterina", "hotel", "penzion", "restaurace", "catering", "cestovní kancelář",
          "autoškola", "jazyková škola", "fitness", "sport", "hračky", "květinářství",
          "železářství", "stavebniny", "papírnictví", "kadeřnictví", "kosmetika",
          "velkoobchod", "maloobchod", "e-shop", "import export", "trading", "consulting",
          "engineering", "projekce", "geodézie", "laboratoře", "recyklace", "odpady",
          "kamenictví", "sklenářství", "pneuservis", "myčka", "čerpací stanice"]
QUALIFIERS = ["", "CZ", "Group", "Plus", "Trade", "Invest", "Holding", "Servis",
              "a syn", "& partneři", "Praha", "Brno", "Ostrava", "Plzeň", "Morava",
              "Čechy", "Jih", "Sever", "Východ", "Západ", "Centrum", "International",
              "Pro", "Expert", "Profi", "Team", "II", "III", "2000", "Nova", "Servis CZ",
              "Technik", "Systems", "Solutions", "Partner", "Family", "Bohemia", "Moravia",
              "Region", "Premium"]

# (suffix written in the name, legal form code in the register, its name, weight)
LEGAL_FORMS = [
    ("s.r.o.", "112", "Společnost s ručením omezeným", 70),
    ("spol. s r.o.", "112", "Společnost s ručením omezeným", 6),
    ("a.s.", "121", "Akciová společnost", 8),
    ("v.o.s.", "111", "Veřejná obchodní společnost", 2),
    ("k.s.", "113", "Komanditní společnost", 1),
    ("z.s.", "706", "Spolek", 3),
    ("o.p.s.", "141", "Obecně prospěšná společnost", 1),
    ("družstvo", "205", "Družstvo", 2),
    ("z.ú.", "161", "Ústav", 1),
    ("SE", "117", "Evropská společnost", 1),
]
PERSON_FORM = ("101", "Fyzická osoba podnikající dle živnostenského zákona")

INDUSTRIES = ["Stavebnictví", "Strojírenství", "Doprava a logistika", "Maloobchod",
              "Velkoobchod", "IT a software", "Zemědělství", "Potravinářství", "Zdravotnictví",
              "Finanční služby", "Reality", "Energetika", "Cestovní ruch", "Vzdělávání",
              "Poradenství", "Výroba", "Telekomunikace", "Média a reklama"]
NACE = ["41200", "43210", "45200", "46900", "47190", "49410", "52290", "62010", "62020",
        "68200", "69200", "70220", "56101", "55100", "10710", "25620", "01110", "86230"]
TAGS = ["VIP", "newsletter", "veletrh 2025", "partner", "dotace", "export", "B2B", "B2C",
        "e-shop", "rámcová smlouva", "reference", "neplatič", "sleva 10 %", "key account"]
RELATIONSHIPS = [("customer", 50), ("prospect", 30), ("partner", 8), ("supplier", 8),
                 ("competitor", 1), ("other", 3)]
CATEGORIES = [("A", 15), ("B", 35), ("C", 30), (None, 20)]
# mobile prefixes and each city's landline area code (the first digits of its number)
MOBILE_PREFIXES = ["601", "602", "603", "604", "605", "606", "607", "608", "702", "704",
                   "720", "721", "722", "723", "724", "725", "728", "730", "731", "732",
                   "733", "734", "736", "737", "739", "773", "774", "775", "776", "777",
                   "790", "792", "799"]
LANDLINE_PREFIXES = ["2", "31", "32", "35", "37", "38", "41", "46", "47", "48", "49", "51",
                     "53", "54", "55", "56", "57", "58", "59"]
# bank codes and their share of business accounts
BANKS = [("0100", 20), ("0300", 20), ("0800", 25), ("2010", 12), ("0600", 5),
         ("5500", 8), ("2700", 5), ("3030", 3), ("6210", 2)]
MAIL_DOMAINS = ["seznam.cz", "email.cz", "gmail.com", "centrum.cz", "post.cz", "volny.cz",
                "atlas.cz", "tiscali.cz"]
